import Testing
@testable import SubconDomain

struct PolicyTests {
    @Test func onlyAdminAdministersTheInstallation() {
        for role in Role.allCases {
            #expect(Policy.allows([role], .administerInstallation) == (role == .admin), "\(role)")
        }
        #expect(Policy.allows([.supplierAdmin], .manageOwnOrganizationUsers))
        #expect(!Policy.allows([.supplierUser], .manageOwnOrganizationUsers))
        #expect(!Policy.allows([.planner], .verifyAuditChain))
    }

    @Test func masterDataIsTheManufacturersToEdit() {
        for role in Role.allCases {
            #expect(Policy.allows([role], .viewMasterData) == (role.side == .manufacturer), "\(role)")
            #expect(Policy.allows([role], .editMasterData) == [.admin, .planner, .purchaser].contains(role), "\(role)")
            #expect(Policy.allows([role], .managePrices) == [.admin, .purchaser].contains(role), "\(role)")
        }
    }

    let supplierAdmin = UserAdministration.Actor(userID: "u1", organizationID: "s1", roles: [.supplierAdmin])

    @Test func supplierAdminManagesOnlyItsOwnOrganization() throws {
        try UserAdministration.check(actor: supplierAdmin, targetUserID: nil, organizationID: "s1",
                                     organizationKind: .supplier, roles: [.supplierUser], active: true)
        #expect(throws: UserAdministration.Refusal.notAllowed) {
            try UserAdministration.check(actor: supplierAdmin, targetUserID: nil, organizationID: "s2",
                                         organizationKind: .supplier, roles: [.supplierUser], active: true)
        }
    }

    @Test func rolesMustFitTheSide() {
        let admin = UserAdministration.Actor(userID: "a", organizationID: "m", roles: [.admin])
        #expect(throws: UserAdministration.Refusal.roleNotForOrganization(.planner)) {
            try UserAdministration.check(actor: admin, targetUserID: nil, organizationID: "s1",
                                         organizationKind: .supplier, roles: [.planner, .supplierUser], active: true)
        }
        #expect(throws: UserAdministration.Refusal.noRoles) {
            try UserAdministration.check(actor: admin, targetUserID: nil, organizationID: "m",
                                         organizationKind: .manufacturer, roles: [], active: true)
        }
    }

    @Test func noOneLocksThemselvesOut() {
        let admin = UserAdministration.Actor(userID: "a", organizationID: "m", roles: [.admin])
        #expect(throws: UserAdministration.Refusal.cannotDeactivateSelf) {
            try UserAdministration.check(actor: admin, targetUserID: "a", organizationID: "m",
                                         organizationKind: .manufacturer, roles: [.admin], active: false)
        }
        #expect(throws: UserAdministration.Refusal.cannotRemoveOwnAdminRole) {
            try UserAdministration.check(actor: admin, targetUserID: "a", organizationID: "m",
                                         organizationKind: .manufacturer, roles: [.planner], active: true)
        }
    }

    @Test func roleListsRoundTrip() {
        let roles: Set<Role> = [.supplierUser, .supplierAdmin]
        #expect(Role.storageText(roles) == "supplier_admin,supplier_user")
        #expect(Role.parseList("supplier_admin,supplier_user,bogus") == roles)
    }
}
