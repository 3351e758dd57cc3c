"""Users, roles and permissions in vsray-sim, through pyvmomi and plain HTTPS:
restricted users get NoPermission naming the privilege, roles with exactly the
documented privileges suffice, permissions propagate (or not) as on vCenter,
the administrator is never refused, and the privilege queries agree with
what is enforced."""

import pytest
from pyVmomi import vim, vmodl

from conftest import PASSWORD, USER, find_vm, nics, wait_task

# The privileges InstantClone_Task documents.
INSTANT_CLONE = ["VirtualMachine.Provisioning.Clone", "VirtualMachine.Interact.PowerOn",
                 "VirtualMachine.Inventory.CreateFromExisting", "Datastore.AllocateSpace",
                 "Resource.AssignVMToPool"]


def datacenter(si):
    return si.RetrieveContent().rootFolder.childEntity[0]


def auth(si):
    return si.RetrieveContent().authorizationManager


def role_id(si, name):
    [role] = [r for r in auth(si).roleList if r.name == name]
    return role.roleId


def grant(si, entity, user, role, propagate=True):
    perm = vim.AuthorizationManager.Permission(principal=user, group=False, roleId=role, propagate=propagate)
    auth(si).SetEntityPermissions(entity=entity, permission=[perm])


def visible_vms(si):
    """The names of the VMs a container view over the inventory lists."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    try:
        return sorted(vm.name for vm in view.view)
    finally:
        view.Destroy()


def clone_spec(name):
    return vim.vm.InstantCloneSpec(name=name, location=vim.vm.RelocateSpec())


def test_users_log_in_over_soap_and_rest(start_sim):
    sim = start_sim("--vms", "0", "--user", "bob:bob-s3cret")
    bob = sim.connect(user="bob", pwd="bob-s3cret")
    assert bob.RetrieveContent().sessionManager.currentSession.userName == "bob"
    with pytest.raises(vim.fault.InvalidLogin):
        sim.connect(user="bob", pwd="wrong")
    status, token = sim.http("POST", "/api/session", auth=("bob", "bob-s3cret"))
    assert status == 201
    assert sim.http("GET", "/api/session", headers={"vmware-api-session-id": token})[1]["user"] == "bob"
    assert sim.http("POST", "/rest/com/vmware/cis/session", auth=("bob", "bob-s3cret"))[0] == 200
    assert sim.http("POST", "/api/session", auth=("bob", "nope"))[0] == 401

    # Users added at run time; the administrator cannot be redefined.
    assert sim.http("POST", "/vsray/users", {"name": "carol", "password": "c-pw"})[0] == 201
    assert sim.connect(user="carol", pwd="c-pw").RetrieveContent().sessionManager.currentSession.userName == "carol"
    assert sim.http("POST", "/vsray/users", {"name": USER, "password": "x"})[0] == 400
    assert sim.control("GET", "users") == {"users": ["bob", "carol"]}
    assert "bob-s3cret" not in sim.stderr() and "c-pw" not in sim.stderr()


def test_no_permission_names_the_privilege_and_hides_objects(start_sim):
    sim = start_sim("--vms", "2", "--user", "bob:pw")
    admin, bob = sim.connect(), sim.connect(user="bob", pwd="pw")
    vm = find_vm(admin, "DC0_C0_RP0_VM0")
    assert visible_vms(bob) == []
    bob_vm = vim.VirtualMachine(vm._moId, bob._stub)
    with pytest.raises(vim.fault.NoPermission) as err:
        bob_vm.PowerOffVM_Task()
    assert err.value.privilegeId == "VirtualMachine.Interact.PowerOff"
    assert err.value.object._moId == vm._moId
    vm_folder = vim.Folder(datacenter(admin).vmFolder._moId, bob._stub)
    with pytest.raises(vim.fault.NoPermission) as err:
        vm_folder.CreateFolder("mine")
    assert err.value.privilegeId == "Folder.Create"
    # REST: tagging needs its privileges too (403, vAPI's Unauthorized).
    _, token = sim.http("POST", "/api/session", auth=("bob", "pw"))
    status, reply = sim.http("POST", "/api/cis/tagging/category",
                             {"name": "ray", "description": "", "cardinality": "SINGLE", "associable_types": []},
                             headers={"vmware-api-session-id": token})
    assert status == 403 and reply["error_type"] == "UNAUTHORIZED"
    assert "InventoryService.Tagging.CreateCategory" in reply["messages"][0]["default_message"]
    # The administrator is not restricted by any of it.
    assert len(visible_vms(admin)) == 2
    assert wait_task(vm.PowerOffVM_Task()).state == "success"


def test_the_documented_privileges_suffice_and_each_is_needed(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "0", "--frozen-vm", "frozen", "--user", "bob:pw",
                    "--role", "clone:" + ",".join(INSTANT_CLONE), "--permission", "bob:clone:/DC0:propagate")
    admin, bob = sim.connect(), sim.connect(user="bob", pwd="pw")
    frozen = find_vm(bob, "frozen")
    info = wait_task(frozen.InstantClone_Task(clone_spec("c1")))
    assert info.state == "success", info.error

    # Without any one of them the call is refused, naming it.
    am = auth(admin)
    rid = role_id(admin, "clone")
    for missing in INSTANT_CLONE:
        am.UpdateAuthorizationRole(roleId=rid, newName="clone", privIds=[p for p in INSTANT_CLONE if p != missing])
        with pytest.raises(vim.fault.NoPermission) as err:
            frozen.InstantClone_Task(clone_spec("c2"))
        assert err.value.privilegeId == missing
    am.UpdateAuthorizationRole(roleId=rid, newName="clone", privIds=INSTANT_CLONE)
    assert wait_task(frozen.InstantClone_Task(clone_spec("c2"))).state == "success"


def test_reconfigure_needs_the_privilege_of_each_change(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "1", "--user", "bob:pw",
                    "--role", "nics:VirtualMachine.Interact.DeviceConnection",
                    "--permission", "bob:nics:/DC0:propagate")
    bob = sim.connect(user="bob", pwd="pw")
    vm = find_vm(bob, "DC0_C0_RP0_VM0")
    [nic] = nics(vm)
    nic.connectable.connected = not nic.connectable.connected
    edit = vim.vm.device.VirtualDeviceSpec(operation="edit", device=nic)
    assert wait_task(vm.ReconfigVM_Task(vim.vm.ConfigSpec(deviceChange=[edit]))).state == "success"
    with pytest.raises(vim.fault.NoPermission) as err:
        vm.ReconfigVM_Task(vim.vm.ConfigSpec(memoryMB=8192))
    assert err.value.privilegeId == "VirtualMachine.Config.Memory"
    with pytest.raises(vim.fault.NoPermission) as err:
        vm.ReconfigVM_Task(vim.vm.ConfigSpec(extraConfig=[vim.option.OptionValue(key="a", value="b")]))
    assert err.value.privilegeId == "VirtualMachine.Config.AdvancedConfig"


def test_propagation_and_inheritance(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "1", "--user", "bob:pw",
                    "--role", "power:VirtualMachine.Interact.PowerOn,VirtualMachine.Interact.PowerOff")
    admin, bob = sim.connect(), sim.connect(user="bob", pwd="pw")
    vm = find_vm(admin, "DC0_C0_RP0_VM0")
    bob_vm = vim.VirtualMachine(vm._moId, bob._stub)
    dc = datacenter(admin)
    power = role_id(admin, "power")

    grant(admin, dc, "bob", power, propagate=False)
    with pytest.raises(vim.fault.NoPermission):
        bob_vm.PowerOffVM_Task()
    grant(admin, dc, "bob", power, propagate=True)  # replaces bob's permission on it
    assert [p.propagate for p in auth(admin).RetrieveEntityPermissions(entity=dc, inherited=False)
            if p.principal == "bob"] == [True]
    assert wait_task(bob_vm.PowerOffVM_Task()).state == "success"

    # A VM also inherits through its resource pool (the cluster's root pool).
    auth(admin).RemoveEntityPermission(entity=dc, user="bob", isGroup=False)
    with pytest.raises(vim.fault.NoPermission):
        bob_vm.PowerOnVM_Task()
    grant(admin, dc.hostFolder.childEntity[0], "bob", power)
    assert wait_task(bob_vm.PowerOnVM_Task()).state == "success"
    # NoAccess on the VM itself overrides what it inherits.
    grant(admin, vm, "bob", role_id(admin, "NoAccess"), propagate=False)
    with pytest.raises(vim.fault.NoPermission):
        bob_vm.PowerOffVM_Task()
    assert visible_vms(bob) == []


def test_privilege_queries_agree_with_enforcement(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "2", "--user", "bob:pw",
                    "--role", "power:VirtualMachine.Interact.PowerOff",
                    "--permission", "bob:power:/DC0/host/DC0_C0:propagate")
    admin, bob = sim.connect(), sim.connect(user="bob", pwd="pw")
    vm = find_vm(admin, "DC0_C0_RP0_VM0")
    folder = datacenter(admin).vmFolder
    privileges = ["VirtualMachine.Interact.PowerOff", "VirtualMachine.Interact.PowerOn", "System.Read", "Folder.Create"]
    session = bob.RetrieveContent().sessionManager.currentSession.key
    own = auth(bob).HasPrivilegeOnEntities(entity=[vm, folder], sessionId=session, privId=privileges)
    by_admin = auth(admin).HasUserPrivilegeOnEntities(entities=[vm, folder], userName="bob", privId=privileges)
    fetched = auth(admin).FetchUserPrivilegeOnEntities(entities=[vm, folder], userName="bob")
    for entity_index, entity in enumerate((vm, folder)):
        granted = {a.privId: a.isGranted for a in own[entity_index].privAvailability}
        assert granted == {a.privId: a.isGranted for a in by_admin[entity_index].privAvailability}
        assert {p for p in privileges if granted[p]} == set(fetched[entity_index].privileges) & set(privileges)
        # Each answer is what enforcement does.
        bob_entity = type(entity)(entity._moId, bob._stub)
        for privilege, call in (("VirtualMachine.Interact.PowerOff", lambda e: e.PowerOffVM_Task()),
                                ("Folder.Create", lambda e: e.CreateFolder("f"))):
            if not hasattr(bob_entity, "PowerOffVM_Task") and privilege.startswith("VirtualMachine"):
                continue
            if not hasattr(bob_entity, "CreateFolder") and privilege == "Folder.Create":
                continue
            if granted[privilege]:
                result = call(bob_entity)
                if isinstance(result, vim.Task):
                    assert wait_task(result).state == "success"
            else:
                with pytest.raises(vim.fault.NoPermission):
                    call(bob_entity)
    assert {a.privId: a.isGranted for a in own[0].privAvailability} == {
        "VirtualMachine.Interact.PowerOff": True, "VirtualMachine.Interact.PowerOn": False,
        "System.Read": True, "Folder.Create": False}
    # The administrator holds everything.
    [everything] = auth(admin).FetchUserPrivilegeOnEntities(entities=[vm], userName=USER)
    assert set(INSTANT_CLONE) <= set(everything.privileges)


def test_roles_and_permissions_through_the_api(start_sim):
    sim = start_sim("--vms", "1", "--user", "bob:pw", "--user", "carol:pw")
    admin = sim.connect()
    am = auth(admin)
    rid = am.AddAuthorizationRole(name="vsray", privIds=["VirtualMachine.Interact.PowerOn",
                                                        "InventoryService.Tagging.AttachTag"])
    [role] = [r for r in am.roleList if r.roleId == rid]
    assert role.name == "vsray" and rid >= 1000
    assert sorted(role.privilege) == ["InventoryService.Tagging.AttachTag", "System.Anonymous", "System.Read",
                                      "System.View", "VirtualMachine.Interact.PowerOn"]
    with pytest.raises(vim.fault.AlreadyExists):
        am.AddAuthorizationRole(name="vsray", privIds=[])
    with pytest.raises(vmodl.fault.InvalidArgument):
        am.AddAuthorizationRole(name="bad", privIds=["Not.A.Privilege"])

    dc = datacenter(admin)
    grant(admin, dc, "bob", rid)
    grant(admin, dc, "carol", rid, propagate=False)  # merged with bob's, not replacing it
    assert sorted(p.principal for p in am.RetrieveEntityPermissions(entity=dc, inherited=False)) == ["bob", "carol"]
    vm = find_vm(admin, "DC0_C0_RP0_VM0")
    inherited = {(p.principal, p.entity._moId) for p in am.RetrieveEntityPermissions(entity=vm, inherited=True)}
    assert ("bob", dc._moId) in inherited and ("carol", dc._moId) not in inherited
    with pytest.raises(vim.fault.UserNotFound):
        grant(admin, dc, "nobody", rid)
    with pytest.raises(vim.fault.NotFound):
        am.RemoveEntityPermission(entity=vm, user="bob", isGroup=False)
    with pytest.raises(vim.fault.RemoveFailed):
        am.RemoveAuthorizationRole(roleId=rid, failIfUsed=True)
    am.RemoveAuthorizationRole(roleId=rid, failIfUsed=False)
    assert am.RetrieveEntityPermissions(entity=dc, inherited=False) == []

    # Restricted users may not change roles or permissions.
    bob = sim.connect(user="bob", pwd="pw")
    with pytest.raises(vim.fault.NoPermission) as err:
        auth(bob).AddAuthorizationRole(name="mine", privIds=[])
    assert err.value.privilegeId == "Authorization.ModifyRoles"


def test_rest_tagging_privileges(start_sim):
    sim = start_sim("--vms", "1", "--user", "bob:pw",
                    "--role", "tagger:InventoryService.Tagging.CreateCategory,InventoryService.Tagging.AttachTag",
                    "--permission", "bob:tagger:/:propagate")
    _, admin_token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    _, token = sim.http("POST", "/api/session", auth=("bob", "pw"))
    bob = {"vmware-api-session-id": token}
    status, cat = sim.http("POST", "/api/cis/tagging/category",
                           {"name": "ray", "description": "", "cardinality": "MULTIPLE", "associable_types": []},
                           headers=bob)
    assert status == 201, cat
    status, reply = sim.http("POST", "/api/cis/tagging/tag", {"name": "a", "description": "", "category_id": cat},
                             headers=bob)
    assert status == 403 and "InventoryService.Tagging.CreateTag" in reply["messages"][0]["default_message"]
    status, tag = sim.http("POST", "/api/cis/tagging/tag", {"name": "a", "description": "", "category_id": cat},
                           headers={"vmware-api-session-id": admin_token})
    assert status == 201
    vm = find_vm(sim.connect(), "DC0_C0_RP0_VM0")
    obj = {"object_id": {"type": "VirtualMachine", "id": vm._moId}}
    assert sim.http("POST", f"/api/cis/tagging/tag-association/{tag}?action=attach", obj, headers=bob)[0] == 204
    # /rest, the same rules.
    status, reply = sim.http("POST", "/rest/com/vmware/cis/session", auth=("bob", "pw"))
    rest = {"vmware-api-session-id": reply["value"]}
    status, reply = sim.http("DELETE", f"/rest/com/vmware/cis/tagging/tag/id:{tag}", headers=rest)
    assert status == 403 and reply["type"] == "com.vmware.vapi.std.errors.unauthorized"


def test_property_collector_answers_only_readable_objects(start_sim):
    sim = start_sim("--hosts", "1", "--vms", "2", "--user", "bob:pw",
                    "--permission", "bob:ReadOnly:/DC0/vm/DC0_C0_RP0_VM1")
    bob = sim.connect(user="bob", pwd="pw")
    assert visible_vms(bob) == ["DC0_C0_RP0_VM1"]
    content = bob.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
    pc = content.propertyCollector.CreatePropertyCollector()
    try:
        traverse = vmodl.query.PropertyCollector.TraversalSpec(name="view", type=vim.view.ContainerView,
                                                               path="view", skip=False)
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(type=vim.VirtualMachine, pathSet=["name"])])
        result = pc.RetrievePropertiesEx([spec], vmodl.query.PropertyCollector.RetrieveOptions())
        assert [o.propSet[0].val for o in result.objects] == ["DC0_C0_RP0_VM1"]
        pc.CreateFilter(spec, partialUpdates=False)
        update = pc.WaitForUpdatesEx("", vmodl.query.PropertyCollector.WaitOptions(maxWaitSeconds=5))
        assert [o.obj._moId for o in update.filterSet[0].objectSet] == [find_vm(sim.connect(), "DC0_C0_RP0_VM1")._moId]
    finally:
        pc.Destroy()
        view.Destroy()
