import IngestModel
import SparkplugB

/// Tahu's `DataType` numbers (sparkplug_b.proto) and what each becomes here (SPEC 4b):
/// integers, floats, booleans and DateTime (epoch milliseconds) a numeric reading; String,
/// Text and UUID a text reading; the rest counted by kind.
enum SparkplugDataType {
    /// What a metric's value becomes.
    enum Value: Equatable {
        case number(Double)
        case text(String)
        /// A value the tables cannot hold: counted as this kind.
        case ignored(IgnoredKind)
        /// The value does not fit the datatype (a string for a Float, say): `invalid_sparkplug`.
        case mismatch(String)
        /// No value at all (and not marked `is_null`): counted as `null`.
        case missing
    }

    static let boolean: UInt32 = 11

    /// Reads `metric`'s value as `datatype` says it is. Signed integers travel in the unsigned
    /// protobuf fields as two's complement (Tahu's encoders), so they are sign-extended from
    /// the datatype's width; either integer field is accepted for any integer type.
    static func value(of metric: Org_Eclipse_Tahu_Protobuf_Payload.Metric, as datatype: UInt32) -> Value {
        switch datatype {
        case 16: return .ignored(.sparkplugDataSet)
        case 17: return .ignored(.sparkplugBytes)
        case 18: return .ignored(.sparkplugFile)
        case 19: return .ignored(.sparkplugTemplate)
        case 20, 21: return .ignored(.sparkplugPropertySet)
        case 22...34: return .ignored(.sparkplugArray)
        case 1...15: break
        default: return .ignored(.sparkplugUnknown)
        }
        guard let value = metric.value else { return .missing }
        func integer() -> UInt64? {
            switch value {
            case .intValue(let v): UInt64(v)
            case .longValue(let v): v
            default: nil
            }
        }
        switch datatype {
        case 1...8, 13:  // Int8..UInt64, DateTime
            guard let raw = integer() else { return .mismatch("an integer datatype without an integer value") }
            switch datatype {
            case 1: return .number(Double(Int8(truncatingIfNeeded: raw)))
            case 2: return .number(Double(Int16(truncatingIfNeeded: raw)))
            case 3: return .number(Double(Int32(truncatingIfNeeded: raw)))
            case 4: return .number(Double(Int64(bitPattern: raw)))
            case 5: return .number(Double(UInt8(truncatingIfNeeded: raw)))
            case 6: return .number(Double(UInt16(truncatingIfNeeded: raw)))
            case 7: return .number(Double(UInt32(truncatingIfNeeded: raw)))
            default: return .number(Double(raw))  // UInt64, DateTime (epoch milliseconds)
            }
        case 9, 10:  // Float, Double
            switch value {
            case .floatValue(let v): return .number(Double(v))
            case .doubleValue(let v): return .number(v)
            default: return .mismatch("a floating-point datatype without a float or double value")
            }
        case boolean:
            guard case .booleanValue(let v) = value else { return .mismatch("Boolean without a boolean value") }
            return .number(v ? 1 : 0)
        case 12, 14, 15:  // String, Text, UUID
            guard case .stringValue(let v) = value else { return .mismatch("a string datatype without a string value") }
            return .text(v)
        default: return .ignored(.sparkplugUnknown)  // not reached: 1...15 are all above
        }
    }
}
