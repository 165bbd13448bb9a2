/// The qualification checklist (准入审核清单): what must be checked, with evidence, before a
/// prospect becomes a qualified supplier.
public enum QualificationCheck: String, Codable, Sendable, CaseIterable {
    /// 营业执照: the legal entity exists and may do this business.
    case businessLicense = "business_license"
    /// 质量体系证书: ISO 9001 / IATF 16949 or equivalent.
    case qualitySystem = "quality_system"
    /// 现场审核: an on-site audit of process, equipment and quality control.
    case onSiteAudit = "on_site_audit"
    /// 样品承认: first samples measured and approved.
    case sampleApproval = "sample_approval"
    /// 质量协议: the quality agreement is signed.
    case qualityAgreement = "quality_agreement"
    /// 保密协议: the non-disclosure agreement is signed (drawings go to the supplier).
    case confidentiality
}

public enum QualificationResult: String, Codable, Sendable, CaseIterable {
    case pending, passed, failed
    /// Does not apply to this supplier (e.g. no drawings shared); needs a note saying why.
    case notApplicable = "not_applicable"
}

public struct QualificationEntry: Sendable, Equatable {
    public var check: QualificationCheck
    public var result: QualificationResult
    public var note: String
    public var evidenceCount: Int
    public init(check: QualificationCheck, result: QualificationResult = .pending, note: String = "", evidenceCount: Int = 0) {
        self.check = check; self.result = result; self.note = note; self.evidenceCount = evidenceCount
    }
}

public enum Qualification {
    public enum Gap: Equatable, Sendable {
        case notReviewed(QualificationCheck)
        case failed(QualificationCheck)
        /// Marked passed, but nothing uploaded to show it.
        case noEvidence(QualificationCheck)
        case notApplicableWithoutReason(QualificationCheck)
    }

    /// Every check with its current entry (missing ones are pending).
    public static func complete(_ entries: [QualificationEntry]) -> [QualificationEntry] {
        QualificationCheck.allCases.map { c in entries.first { $0.check == c } ?? QualificationEntry(check: c) }
    }

    /// What still stands between a supplier and `qualified`: empty when every check is passed
    /// with evidence, or marked not applicable with a reason.
    public static func gaps(_ entries: [QualificationEntry]) -> [Gap] {
        complete(entries).compactMap { e in
            switch e.result {
            case .pending: .notReviewed(e.check)
            case .failed: .failed(e.check)
            case .passed: e.evidenceCount > 0 ? nil : .noEvidence(e.check)
            case .notApplicable: e.note.trimmingSpaces().isEmpty ? .notApplicableWithoutReason(e.check) : nil
            }
        }
    }

    /// A change of result is refused when it would leave the entry unprovable.
    public static func check(_ entry: QualificationEntry) -> Gap? {
        switch entry.result {
        case .passed where entry.evidenceCount == 0: .noEvidence(entry.check)
        case .notApplicable where entry.note.trimmingSpaces().isEmpty: .notApplicableWithoutReason(entry.check)
        default: nil
        }
    }
}

extension SupplierStatus {
    /// Whether this change must first pass the qualification checklist: becoming qualified from
    /// prospect (later returns to qualified, after probation or suspension, were qualified once).
    public func needsChecklist(to target: SupplierStatus) -> Bool { self == .prospect && target == .qualified }
}
