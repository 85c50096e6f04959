#if canImport(Glibc)
import Glibc
#endif

/// Start-up check of `spool.dir` (SPEC 3: an unusable spool is a configuration error): it
/// must exist or be creatable, and be writable.
enum SpoolDirectory {
    struct Unusable: Error, CustomStringConvertible {
        let description: String
    }

    static func check(_ path: String) throws {
        var isDir = stat()
        if stat(path, &isDir) != 0 {
            var partial = path.hasPrefix("/") ? "" : "."
            for component in path.split(separator: "/") {
                partial += "/" + component
                if mkdir(partial, 0o750) != 0 && errno != EEXIST {
                    throw Unusable(description: "cannot create the directory: \(String(cString: strerror(errno)))")
                }
            }
        }
        guard access(path, W_OK | X_OK) == 0 else {
            throw Unusable(description: "not writable: \(String(cString: strerror(errno)))")
        }
    }
}
