import IngestModel

/// `sparkplug_metrics` (SPEC 4b and 5): the births' metric definitions, written with the
/// births' readings (`WriteJob`, the spool replay) and read back once at start-up, so data
/// messages that carry only aliases resolve after a restart without a rebirth.
public enum SparkplugCatalog {
    /// The table, as `migrate` creates it.
    static let create = """
        CREATE TABLE IF NOT EXISTS sparkplug_metrics (
          device_id text NOT NULL, name text NOT NULL, alias bigint, datatype int NOT NULL,
          born_at timestamptz NOT NULL, PRIMARY KEY (device_id, name)
        )
        """

    /// Every device's latest birth: the rows whose `born_at` is the newest of their device
    /// (names an older birth had and the newest dropped are left out). Blocking.
    public static func load(url: String) throws(PostgresError) -> [MetricDefinition] {
        let connection = try PostgresConnection(url: url, connectTimeout: 10)
        defer { connection.close() }
        return try load(on: connection)
    }

    /// As `load(url:)`, on an open connection.
    public static func load(on connection: PostgresConnection) throws(PostgresError) -> [MetricDefinition] {
        let rows = try connection.rows("""
            SELECT device_id, name, alias, datatype, (extract(epoch FROM born_at) * 1000000)::bigint
            FROM sparkplug_metrics m
            WHERE born_at = (SELECT max(born_at) FROM sparkplug_metrics n WHERE n.device_id = m.device_id)
            """)
        return rows.compactMap { r in
            guard r.count == 5, let device = r[0], let name = r[1], let type = r[3].flatMap({ Int32($0) }),
                  let born = r[4].flatMap({ Int64($0) }) else { return nil }
            return MetricDefinition(deviceID: device, name: name, alias: r[2].flatMap { UInt64($0) }, datatype: type,
                                    bornAt: born)
        }
    }
}
