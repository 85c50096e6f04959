import Observability
import Testing

@Suite struct HealthReportTests {
    func healthy() -> HealthSnapshot {
        var s = HealthSnapshot()
        s.mqttConnected = true
        s.mqttSubscribed = true
        s.databaseReachable = true
        s.queueCapacity = 100
        return s
    }

    @Test func readyWhenConnectedSubscribedAndTheDatabaseAnswers() {
        #expect(HealthReport(healthy()).status == .healthy)
        var s = healthy()
        s.mqttSubscribed = false
        #expect(!HealthReport(s).isReady)
        s = healthy()
        s.databaseReachable = false
        #expect(!HealthReport(s).isReady)
        s = healthy()
        s.shuttingDown = true
        #expect(HealthReport(s).status == .unhealthy)
    }

    @Test func degradedButReadyWhenTheQueueIsNearlyFullOrTheSpoolHasFiles() {
        var s = healthy()
        s.queueDepth = 81
        #expect(HealthReport(s).status == .degraded)
        #expect(HealthReport(s).isReady)
        s = healthy()
        s.spoolFiles = 1
        #expect(HealthReport(s).status == .degraded)
    }

    @Test func notReadyWhileTheSpoolRefusesWritesAndTheReasonIsShown() {
        var s = healthy()
        s.spoolFiles = 3
        s.spoolFailure = "write /spool/x.copy: No space left on device"
        let report = HealthReport(s)
        #expect(!report.isReady)
        let spool = report.components.first { $0.name == "spool" }
        #expect(spool?.status == .unhealthy)
        #expect(spool?.message == "cannot be written: write /spool/x.copy: No space left on device")
    }

    @Test func detailedBodyListsTheFiveComponents() {
        let body = HealthReport(healthy()).json(version: "1", detailed: true).rendered
        for name in ["\"mqtt\"", "\"database\"", "\"queue\"", "\"writer\"", "\"spool\"", "\"pending_rows\"",
                     "\"last_flush_at\"", "\"subscriptions\"", "\"pool_size\"", "\"capacity\"", "\"bytes\""] {
            #expect(body.contains(name), "\(name)")
        }
        #expect(HealthReport(healthy()).json(version: "1", detailed: false).rendered.contains("\"components\":{}"))
    }
}
