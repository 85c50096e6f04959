#if canImport(Glibc)
import Glibc
#endif

/// Plain output for the command-line side (not logs): stdout for results, stderr for errors.
public enum Console {
    /// Writes straight to fd 1 with `write(2)`: no stdio buffer a crash could lose.
    public static func out(_ text: String) { write(1, text + "\n") }
    /// The same on fd 2.
    public static func error(_ text: String) { write(2, text + "\n") }

    private static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
