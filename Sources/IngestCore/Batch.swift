/// What one COPY (plus its rejects) carries to the database: the unit of retry, of
/// bisection and of spooling.
public struct Batch: Sendable {
    public var readings: [Reading]
    public var rejects: [Reject]

    public init(readings: [Reading] = [], rejects: [Reject] = []) {
        self.readings = readings
        self.rejects = rejects
    }

    public var isEmpty: Bool { readings.isEmpty && rejects.isEmpty }

    /// Readings plus rejects: the rows this batch puts in the database.
    public var rowCount: Int { readings.count + rejects.count }
}
