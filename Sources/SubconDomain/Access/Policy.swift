/// What a person may do. Every permission check in the app goes through `Policy.allows`,
/// so the table below is the single place where roles meet actions.
public enum Action: String, Sendable, CaseIterable {
    /// See the organizations directory and people of the own side.
    case viewDirectory
    /// Create, edit, deactivate any user and any organization (manufacturer admin).
    case administerInstallation
    /// Manage users of one's own organization (supplier admin).
    case manageOwnOrganizationUsers
    /// Read the audit trail of records one can see.
    case viewAudit
    /// Verify the whole audit chain.
    case verifyAuditChain
    /// Read items, BOMs and routings (the manufacturer's side).
    case viewMasterData
    /// Create and change items, BOMs and routings, and import them.
    case editMasterData
    /// Supplier profiles, qualification, certificates.
    case manageSuppliers
    /// Price agreements.
    case managePrices
    /// Production plans: draft, release (which proposes orders), change, close.
    case managePlans
    /// Outsourcing orders: create, release, revise, decide on counter-proposals, cancel.
    case manageOrders
    /// Answer released orders and revisions, on the supplier's side.
    case answerOrders
    /// Issue material, record returns, count corrections, transfers between suppliers, and
    /// receive goods (the manufacturer's warehouse).
    case handleMaterial
    /// Approve or refuse a supplementary issue (补料).
    case approveSupplementaryIssue
    /// Record the outcome of incoming goods: accepted and rejected quantities.
    case inspectGoods
    /// Decide who answers for a reject or scrapped material: the supplier's processing (工废) or
    /// the material (料废) — quality's call, with a reason.
    case judgeRejects
    /// The supplier's side of material and goods: confirm what arrived, report scrap, ship
    /// against orders with delivery notes.
    case fulfilOrders
    /// Turn write-off variances into deduction proposals for the statement.
    case proposeDeductions
    /// Name oneself as the approver of a concession (让步接收) on a rejected lot.
    case approveConcession
    /// Inspection plans per item, exemption and switching states, and the exception deadline table.
    case configureQuality
    /// Raise an exception and comment on the ones one can see.
    case raiseExceptions
    /// The buyer's side of an exception: owners, 8D gates (approve, send back), close, reopen.
    case handleExceptions
    /// The supplier's side of an exception: respond, fill the 8D steps.
    case answerExceptions
    /// Lots, PPM and response times per supplier (a supplier sees only its own).
    case viewQualityFigures
    /// Read reconciliation statements (对账单); a supplier reads only its own.
    case viewStatements
    /// Generate statements, add adjustments, send, answer disputed lines and revise (the buyer).
    case prepareStatements
    /// Lock a confirmed statement for good (finance).
    case lockStatements
    /// Confirm or dispute a statement (the supplier's side).
    case answerStatements
    /// Register VAT invoices against the own locked statements (the supplier's side).
    case registerInvoices
    /// Accept or reject invoices and record payments (finance).
    case settleInvoices
    /// State the month-end stock count (月末盘点) on the supplier's side.
    case countStock
    /// Close a supplier's month-end count on its behalf, with a reason (the buyer).
    case closeStockCounts
    /// Supplier scorecards (绩效): the buyer sees every supplier's and the ranking, a supplier its own.
    case viewScorecards
    /// Scorecard weights and grade thresholds, and closing a month's grades (admin).
    case configureScorecards
    /// Where the organization's events go: chat robots, webhooks, mailboxes, and their delivery log.
    case manageChannels
    /// Read technical documents (drawings, process sheets, inspection standards): the buyer's side
    /// all of them, a supplier's people those shared with it, and acknowledge new revisions.
    case viewTechnicalDocuments
    /// Upload documents and revisions, share or withhold them by hand, require read receipts.
    case manageTechnicalDocuments
    /// Move open order lines from one supplier to another (更换供应商交接), with its checklist.
    case handOverSuppliers
}

public enum Policy {
    public static func allows(_ roles: Set<Role>, _ action: Action) -> Bool {
        roles.contains { allows($0, action) }
    }

    static func allows(_ role: Role, _ action: Action) -> Bool {
        switch (role, action) {
        case (.admin, _): true
        case (.supplierAdmin, .manageOwnOrganizationUsers), (.supplierAdmin, .manageChannels): true
        case (_, .viewDirectory), (_, .viewAudit): true
        case (.planner, .editMasterData), (.purchaser, .editMasterData): true
        case (.purchaser, .manageSuppliers), (.quality, .manageSuppliers): true
        case (.purchaser, .managePrices): true
        case (.planner, .managePlans): true
        // The planner releases the orders a plan proposes; the purchaser owns them afterwards.
        case (.planner, .manageOrders), (.purchaser, .manageOrders): true
        case (.supplierAdmin, .answerOrders), (.supplierUser, .answerOrders): true
        case (.warehouse, .handleMaterial): true
        case (.purchaser, .approveSupplementaryIssue): true
        case (.quality, .inspectGoods), (.quality, .judgeRejects): true
        case (.quality, .approveConcession), (.purchaser, .approveConcession): true
        case (.quality, .configureQuality): true
        case (.quality, .handleExceptions), (.purchaser, .handleExceptions): true
        case (.supplierAdmin, .answerExceptions), (.supplierUser, .answerExceptions): true
        case (.planner, .raiseExceptions), (.purchaser, .raiseExceptions), (.quality, .raiseExceptions), (.warehouse, .raiseExceptions),
             (.supplierAdmin, .raiseExceptions), (.supplierUser, .raiseExceptions): true
        case (.supplierAdmin, .fulfilOrders), (.supplierUser, .fulfilOrders): true
        case (.finance, .proposeDeductions), (.purchaser, .proposeDeductions): true
        case (.quality, .viewQualityFigures), (.purchaser, .viewQualityFigures), (.finance, .viewQualityFigures),
             (.supplierAdmin, .viewQualityFigures), (.supplierUser, .viewQualityFigures): true
        case (.finance, .viewStatements), (.purchaser, .viewStatements),
             (.supplierAdmin, .viewStatements), (.supplierFinance, .viewStatements): true
        case (.finance, .prepareStatements), (.purchaser, .prepareStatements): true
        case (.finance, .lockStatements): true
        case (.supplierAdmin, .answerStatements), (.supplierFinance, .answerStatements): true
        case (.supplierAdmin, .registerInvoices), (.supplierFinance, .registerInvoices): true
        case (.finance, .settleInvoices): true
        case (.supplierAdmin, .countStock), (.supplierUser, .countStock): true
        case (.warehouse, .closeStockCounts), (.purchaser, .closeStockCounts), (.finance, .closeStockCounts): true
        case (.purchaser, .viewScorecards), (.quality, .viewScorecards), (.finance, .viewScorecards), (.planner, .viewScorecards),
             (.supplierAdmin, .viewScorecards), (.supplierUser, .viewScorecards), (.supplierFinance, .viewScorecards): true
        case (.supplierAdmin, .viewTechnicalDocuments), (.supplierUser, .viewTechnicalDocuments): true
        case (.purchaser, .handOverSuppliers): true
        case (.planner, .manageTechnicalDocuments), (.purchaser, .manageTechnicalDocuments), (.quality, .manageTechnicalDocuments): true
        case (let role, .viewMasterData), (let role, .viewTechnicalDocuments): role.side == .manufacturer
        default: false
        }
    }
}

/// The rules for who may create or change which user account.
public enum UserAdministration {
    public enum Refusal: Error, Equatable, Sendable {
        case notAllowed
        case roleNotForOrganization(Role)
        case noRoles
        case cannotDeactivateSelf
        case cannotRemoveOwnAdminRole
    }

    public struct Actor: Sendable {
        public let userID: String
        public let organizationID: String
        public let roles: Set<Role>
        public init(userID: String, organizationID: String, roles: Set<Role>) {
            self.userID = userID; self.organizationID = organizationID; self.roles = roles
        }
    }

    /// Whether `actor` may manage accounts belonging to `organizationID`.
    public static func mayManage(actor: Actor, organizationID: String) -> Bool {
        if Policy.allows(actor.roles, .administerInstallation) { return true }
        return Policy.allows(actor.roles, .manageOwnOrganizationUsers) && actor.organizationID == organizationID
    }

    /// Checks a proposed account state: allowed actor, roles that fit the organization's side,
    /// and no locking oneself out.
    public static func check(
        actor: Actor, targetUserID: String?, organizationID: String, organizationKind: OrganizationKind,
        roles: Set<Role>, active: Bool
    ) throws(Refusal) {
        guard mayManage(actor: actor, organizationID: organizationID) else { throw .notAllowed }
        guard !roles.isEmpty else { throw .noRoles }
        if let wrong = roles.sorted().first(where: { $0.side != organizationKind }) {
            throw .roleNotForOrganization(wrong)
        }
        if targetUserID == actor.userID {
            if !active { throw .cannotDeactivateSelf }
            let adminRole: Role = organizationKind == .manufacturer ? .admin : .supplierAdmin
            if actor.roles.contains(adminRole) && !roles.contains(adminRole) { throw .cannotRemoveOwnAdminRole }
        }
    }
}
