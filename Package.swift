// swift-tools-version:6.1
import Foundation
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    // Lets generic hot-path code (BoundedQueue<Message>, Mutex) be specialised across our
    // modules in release builds instead of going through runtime generic metadata.
    .unsafeFlags(["-cross-module-optimization"], .when(configuration: .release)),
    // Release builds skip the runtime exclusivity checks on class properties: on the
    // per-message path (queue, inlet, topic cache, journal) they cost ~630 of ~12,000
    // instructions per message (callgrind, `scripts/bench.sh --callgrind`). Debug builds,
    // which every test and the thread-sanitizer run use, keep them.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "iot-ingest",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "iot-ingest", targets: ["iot-ingest"]),
        .executable(name: "iot-loadgen", targets: ["iot-loadgen"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CMosquitto", pkgConfig: "libmosquitto",
                       providers: [.apt(["libmosquitto-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // Threads and locks the daemon owns (blocking work never runs on the cooperative pool).
        .target(name: "Concurrency", swiftSettings: strict),
        // The nouns and the edges: messages, readings, batches, rejects, and the protocols the
        // pipeline talks to its source, sink, spool, journal and ledger through.
        .target(name: "IngestModel", dependencies: ["Concurrency"], swiftSettings: strict),
        // Eclipse Tahu's Sparkplug B payload: the .proto, its licence and the code generated from
        // it (scripts/gen-sparkplug.sh regenerates it; nothing else in this module).
        .target(
            name: "SparkplugB",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["sparkplug_b.proto", "LICENSE-EPL-2.0.html"],
            // The generated messages keep their fields in a class: every access was a runtime
            // exclusivity check (~3,300 of ~44,000 instructions per Sparkplug message).
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // Bytes in, readings or a reject out: the PayloadFormat protocol, JSON, Influx line
        // protocol and Sparkplug B (the one stateful format).
        .target(
            name: "PayloadFormats",
            dependencies: ["IngestModel", "SparkplugB", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        // The key table, the loader (the only Yams user), validation, redaction, reload diff.
        .target(
            name: "IngestConfig",
            dependencies: ["IngestModel", "PayloadFormats", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict),
        // The pipeline only: inlet, queue, workers, batcher, writer lanes, shutdown steps.
        .target(
            name: "IngestCore",
            dependencies: [
                "Concurrency", "IngestModel", "PayloadFormats", "IngestConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: strict),
        .target(name: "CCRC32C"),
        .target(
            name: "Durability",
            dependencies: [
                "Concurrency", "IngestModel", "CCRC32C",
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["Formats.md"],
            swiftSettings: strict),
        .target(
            name: "Observability",
            dependencies: [
                "Concurrency", "IngestModel", "IngestConfig",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .target(
            name: "MQTTSource",
            dependencies: [
                "CMosquitto", "Concurrency", "IngestModel", "IngestConfig",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "PostgresSink",
            dependencies: [
                "CLibPQ", "Concurrency", "IngestModel", "IngestConfig",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "iot-ingest",
            dependencies: [
                "Concurrency", "IngestModel", "PayloadFormats", "IngestConfig", "IngestCore", "Durability",
                "MQTTSource", "PostgresSink", "Observability",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "iot-loadgen",
            dependencies: [
                "Concurrency", "IngestModel", "IngestConfig", "IngestCore", "MQTTSource", "Durability",
                "PostgresSink", "Observability", "PayloadFormats", "SparkplugB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict),
        .target(
            name: "TestSupport",
            dependencies: ["Concurrency", "IngestConfig", "IngestModel", "PostgresSink", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport",
            swiftSettings: strict),
        // Unit tests mirror the modules; EndToEndTests run the built daemon.
        .testTarget(name: "ConcurrencyTests", dependencies: ["Concurrency"], swiftSettings: strict),
        .testTarget(name: "IngestModelTests", dependencies: ["IngestModel"], swiftSettings: strict),
        .testTarget(name: "PayloadFormatsTests", dependencies: ["IngestModel", "PayloadFormats", "SparkplugB", "Concurrency",
                                                               .product(name: "Logging", package: "swift-log")],
                    swiftSettings: strict),
        .testTarget(name: "IngestConfigTests", dependencies: ["IngestConfig", "IngestModel", "PayloadFormats"], swiftSettings: strict),
        .testTarget(
            name: "IngestCoreTests",
            dependencies: ["Concurrency", "IngestModel", "PayloadFormats", "IngestCore", "TestSupport", "SparkplugB",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .testTarget(
            name: "ObservabilityTests",
            dependencies: ["Observability", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .testTarget(
            name: "MQTTSourceTests",
            dependencies: ["MQTTSource", "Concurrency", "IngestConfig", "IngestModel", "TestSupport"],
            swiftSettings: strict),
        .testTarget(
            name: "DurabilityTests",
            dependencies: ["Durability", "Concurrency", "IngestModel", "PayloadFormats", "IngestCore", "TestSupport",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .testTarget(
            name: "PostgresSinkTests",
            dependencies: ["PostgresSink", "Durability", "Concurrency", "IngestModel", "IngestConfig", "TestSupport",
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Concurrency", "IngestModel", "Durability", "TestSupport", "SparkplugB"],
            swiftSettings: strict),
    ]
)

// Micro-benchmarks of the hot path (Benchmarks/HotPath), only when asked for, so the normal
// build and test run never compile the benchmark framework:
//   IOT_INGEST_BENCHMARKS=1 swift package benchmark
if ProcessInfo.processInfo.environment["IOT_INGEST_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "HotPath",
            dependencies: ["IngestModel", "PayloadFormats", "IngestCore", "Durability", "PostgresSink",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/HotPath",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]))
}
