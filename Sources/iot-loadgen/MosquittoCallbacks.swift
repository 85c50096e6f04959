import CMosquitto

// libmosquitto callbacks for the publisher: free functions (see MQTTSource for why), called
// on libmosquitto's network thread. `userdata` is the Publisher, alive until loop_stop.

func publisherOnPublish(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ mid: Int32) {
    Unmanaged<Publisher>.fromOpaque(userdata!).takeUnretainedValue().didPublish()
}

func publisherOnConnect(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32) {
    Unmanaged<Publisher>.fromOpaque(userdata!).takeUnretainedValue().didConnect(rc)
}

func publisherOnDisconnect(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32) {
    Unmanaged<Publisher>.fromOpaque(userdata!).takeUnretainedValue().didDisconnect()
}

func subscriberOnConnect(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ rc: Int32) {
    Unmanaged<BareSubscriber>.fromOpaque(userdata!).takeUnretainedValue().didConnect(rc)
}

func subscriberOnSubscribe(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?, _ mid: Int32,
                           _ count: Int32, _ granted: UnsafePointer<Int32>?) {
    Unmanaged<BareSubscriber>.fromOpaque(userdata!).takeUnretainedValue().didSubscribe()
}

func subscriberOnMessage(_ mosq: OpaquePointer?, _ userdata: UnsafeMutableRawPointer?,
                         _ message: UnsafePointer<mosquitto_message>?) {
    Unmanaged<BareSubscriber>.fromOpaque(userdata!).takeUnretainedValue().didReceive()
}
