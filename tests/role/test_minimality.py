"""Minimality of vsray's role (issue 17): for each privilege of the list, a user holding the
role minus that privilege fails at a named step with an error naming it, and `vsray check`
reported it beforehand. One simulator for the table; a user (and a cluster) per case."""

import json

import pytest

from library import upload_frozen_image

# (privilege, config kind, command, words of the failing step). The first case needs the
# custom attributes undefined: it runs before any node is created in this simulator.
CASES = [
    ("Global.ManageCustomFields", "existing", "create", "defining custom attribute"),
    # The cluster lease is written (an attribute) before any node tag.
    ("Global.SetCustomField", "existing", "create", "writing the cluster lease"),
    ("VirtualMachine.Provisioning.Clone", "existing", "create", "instant clone of"),
    ("VirtualMachine.Inventory.CreateFromExisting", "existing", "create", "instant clone of"),
    ("VirtualMachine.Interact.PowerOn", "existing", "create", "instant clone of"),
    ("Resource.AssignVMToPool", "existing", "create", "instant clone of"),
    ("Datastore.AllocateSpace", "existing", "create", "instant clone of"),
    ("VirtualMachine.Config.CPUCount", "existing", "create", "resize"),
    ("VirtualMachine.Config.Memory", "existing", "create", "resize"),
    ("VirtualMachine.Interact.PowerOff", "existing", "terminate", "terminat"),
    ("VirtualMachine.Inventory.Delete", "existing", "terminate", "terminat"),
    ("Folder.Create", "existing", "create", "taking the cluster lease"),
    # Without it the lease outlives the run (a warning; the next run takes it over).
    ("Folder.Delete", "existing", "create", "could not release the cluster lease"),
    ("VApp.Import", "deploy", "prepare", "deploying frozen VM"),
    ("VirtualMachine.Config.AdvancedConfig", "deploy", "prepare", "configuring frozen VM"),
]


@pytest.fixture(scope="module")
def library_item(rsim):
    datastore = rsim.pyvmomi().RetrieveContent().rootFolder.childEntity[0].datastore[0]
    item = upload_frozen_image(rsim.base, rsim.ca_file, "user", rsim.cluster.password,
                               datastore._moId)
    return item, datastore.name


def deploy_edit(user, item, datastore):
    return lambda text: text.replace(
        '      name: "ray-frozen-vm"',
        f'      name: "{user}-frozen"\n      library_item: "{item}"\n'
        f'      cluster: DC0_C0\n      datastore: {datastore}')


def test_every_privilege_of_the_list_is_covered(rsim, library_item):
    """The table covers the role of both configs, so that no privilege escapes the test."""
    item, datastore = library_item
    listed = set()
    for kind in ("existing", "deploy"):
        edit = deploy_edit("cover", item, datastore) if kind == "deploy" else None
        config = rsim.config(f"cover-{kind}.yaml", "cover", edit=edit)
        shown = rsim.cli.run("role", "show", config, "--json")
        assert shown.code == 0, shown
        listed |= set(json.loads(shown.out)["privileges"])
    assert listed == {case[0] for case in CASES}


@pytest.mark.parametrize("privilege,kind,command,step", CASES, ids=[c[0] for c in CASES])
def test_role_minus_one_privilege_fails_naming_it(rsim, library_item, privilege, kind, command,
                                                  step):
    user = "u" + str(CASES.index((privilege, kind, command, step)))
    password = f"{user}-Pw-9"
    rsim.add_user(user, password)
    edit = deploy_edit(user, *library_item) if kind == "deploy" else None
    admin = rsim.config(f"{user}-admin.yaml", user, edit=edit)
    config = rsim.config(f"{user}.yaml", user, user, password, edit=edit)
    made = rsim.cli.run("role", "create", admin, "--name", "r-" + user, "--assign-to", user)
    assert made.code == 0, made
    victim = None
    if command == "terminate":  # a node to terminate, made by the administrator
        created = rsim.cli.run("create", admin, "--node-type", "ray.worker.default", "--json")
        assert created.code == 0, created
        victim = json.loads(created.out)["nodes"][0]["id"]
    si = rsim.pyvmomi()
    auth = si.RetrieveContent().authorizationManager
    role = next(r for r in auth.roleList if r.name == "r-" + user)
    auth.UpdateAuthorizationRole(role.roleId, role.name,
                                 [p for p in role.privilege if p != privilege])

    check = rsim.cli.run("check", config, "--json")
    assert check.code == 1, check
    failed = [c for c in json.loads(check.out)["checks"]
              if c["check"] == "privileges" and c["status"] == "fail"]
    assert any(privilege in c["detail"] and "vsray role create" in c["fix"] for c in failed), check

    args = {"create": ("create", config, "--node-type", "ray.worker.default"),
            "terminate": ("terminate", config, victim),
            "prepare": ("frozen-vm", "prepare", config)}[command]
    result = rsim.cli.run(*args)
    assert result.code == (0 if privilege == "Folder.Delete" else 1), result
    lines = [line for line in (result.out + result.err).splitlines() if privilege in line]
    assert lines, result
    # SOAP faults read "NoPermission: privilege P missing on T id"; the REST API's 403
    # carries the server's message, which names both too.
    assert any(step in line and ("NoPermission" in line or "denied" in line) for line in lines), lines
