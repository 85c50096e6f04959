import IngestModel

/// What one configuration reload did (SPEC 3): logged as `config_reloaded` or
/// `config_reload_failed`, and the body `POST /admin/reload` answers with.
public struct ReloadOutcome: Sendable, Equatable {
    /// Reloadable keys whose new values are now in effect.
    public var changed: [String] = []
    /// Changed keys that keep their old values until a restart.
    public var requiresRestart: [String] = []
    /// Why the new configuration was refused whole (empty when it was applied).
    public var errors: [String] = []

    /// Empty `errors` means the reload was applied.
    public init(changed: [String] = [], requiresRestart: [String] = [], errors: [String] = []) {
        self.changed = changed
        self.requiresRestart = requiresRestart
        self.errors = errors
    }

    /// Whether the new configuration was applied (200 from `/admin/reload`, else 422).
    public var succeeded: Bool { errors.isEmpty }

    /// The event's name and fields as JSON, as the log line has them.
    public var json: JSONValue {
        if succeeded {
            return .object([
                ("event", .string("config_reloaded")),
                ("changed", .array(changed.map(JSONValue.string))),
                ("requires_restart", .array(requiresRestart.map(JSONValue.string))),
            ])
        }
        return .object([("event", .string("config_reload_failed")), ("errors", .array(errors.map(JSONValue.string)))])
    }
}
