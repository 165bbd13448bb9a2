import SubconDomain
import Testing

@Suite struct MaterialKindTests {
    /// Only material sent to the supplier, once done, waits for its confirmation, and only
    /// while a line is unconfirmed.
    @Test func onlyDoneIssuesWaitForTheSuppliersConfirmation() {
        for kind in MaterialKind.allCases {
            let sent = kind == .issue || kind == .supplementary
            #expect(MaterialKind.isConfirmable(kind: kind.rawValue, status: "done") == sent, "\(kind)")
            #expect(!MaterialKind.isConfirmable(kind: kind.rawValue, status: "pending_approval"), "\(kind)")
            #expect(MaterialKind.awaitsConfirmation(kind: kind.rawValue, status: "done", hasUnconfirmedLine: true) == sent, "\(kind)")
            #expect(!MaterialKind.awaitsConfirmation(kind: kind.rawValue, status: "done", hasUnconfirmedLine: false), "\(kind)")
        }
        #expect(!MaterialKind.isConfirmable(kind: "unknown", status: "done"))
    }
}
