/// Why the load generator could not do its job.
struct LoadgenError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
