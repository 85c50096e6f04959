// swift-tools-version:6.1
// Micro-benchmarks of the hot path, kept in their own package so the normal build and test
// run never compile the benchmark framework. Run: `cd Benchmarks && swift package benchmark`.
import PackageDescription

let package = Package(
    name: "iot-ingest-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPath",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "IngestKit", package: "iot-ingest"),
            ],
            path: "HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),
    ]
)
