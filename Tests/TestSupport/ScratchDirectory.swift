import Foundation

/// A new, empty directory under the system's temporary directory, named `<name>`: the spool
/// or journal directory a test hands to one daemon and then to the next.
public func scratchDirectory(_ name: String) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}
