"""Teaches Debian's pyvmomi 6.7.1 the vSphere 7.0 types of Dynamic DirectPath I/O.

pyvmomi 6.7.1 predates vSphere 7.0: it knows neither
VirtualPCIPassthroughDynamicBackingInfo nor ConfigTarget.dynamicPassthrough nor
HostConfigInfo.assignableHardwareBinding, and fails to decode answers that
carry them. This module declares them (names and fields from the vSphere 7.0
API reference) before pyvmomi builds its lazy types, so the tests can use them
like any other type. Import it before touching vim.vm.ConfigTarget or
vim.host.ConfigInfo; importing it twice does nothing.
"""

from pyVmomi import VmomiSupport

F_OPTIONAL = VmomiSupport.F_OPTIONAL
# Declared at the oldest version so that every negotiated version sees them.
V1 = "vim.version.version1"

_NEW_TYPES = [
    ("vim.vm.device.VirtualPCIPassthrough.AllowedDevice", "VirtualPCIPassthroughAllowedDevice",
     "vmodl.DynamicData", [("vendorId", "int", V1, 0), ("deviceId", "int", V1, 0),
                           ("subVendorId", "int", V1, F_OPTIONAL), ("subDeviceId", "int", V1, F_OPTIONAL),
                           ("revisionId", "short", V1, F_OPTIONAL)]),
    ("vim.vm.device.VirtualPCIPassthrough.DynamicBackingInfo", "VirtualPCIPassthroughDynamicBackingInfo",
     "vim.vm.device.VirtualDevice.DeviceBackingInfo",
     [("allowedDevice", "vim.vm.device.VirtualPCIPassthrough.AllowedDevice[]", V1, F_OPTIONAL),
      ("customLabel", "string", V1, F_OPTIONAL), ("assignedId", "string", V1, F_OPTIONAL)]),
    ("vim.vm.DynamicPassthroughInfo", "VirtualMachineDynamicPassthroughInfo", "vim.vm.TargetInfo",
     [("vendorName", "string", V1, 0), ("deviceName", "string", V1, 0),
      ("customLabel", "string", V1, F_OPTIONAL), ("vendorId", "int", V1, 0), ("deviceId", "int", V1, 0)]),
    ("vim.host.AssignableHardwareBinding", "HostAssignableHardwareBinding", "vmodl.DynamicData",
     [("instanceId", "string", V1, 0), ("vm", "vim.VirtualMachine", V1, 0)]),
    ("vim.host.AssignableHardwareConfig.AttributeOverride", "HostAssignableHardwareConfigAttributeOverride",
     "vmodl.DynamicData", [("instanceId", "string", V1, 0), ("name", "string", V1, 0),
                           ("value", "anyType", V1, 0)]),
    ("vim.host.AssignableHardwareConfig", "HostAssignableHardwareConfig", "vmodl.DynamicData",
     [("attributeOverride", "vim.host.AssignableHardwareConfig.AttributeOverride[]", V1, F_OPTIONAL)]),
]

_NEW_PROPS = {
    "vim.vm.ConfigTarget": [("dynamicPassthrough", "vim.vm.DynamicPassthroughInfo[]", V1, F_OPTIONAL)],
    "vim.host.ConfigInfo": [
        ("assignableHardwareBinding", "vim.host.AssignableHardwareBinding[]", V1, F_OPTIONAL),
        ("assignableHardwareConfig", "vim.host.AssignableHardwareConfig", V1, F_OPTIONAL),
    ],
}


def _declare():
    for vmodl_name, wsdl_name, parent, props in _NEW_TYPES:
        if vmodl_name not in VmomiSupport._dataDefMap:
            VmomiSupport.CreateDataType(vmodl_name, wsdl_name, parent, V1, props)
    for vmodl_name, extra in _NEW_PROPS.items():
        name, wsdl_name, parent, version, props = VmomiSupport._dataDefMap[vmodl_name]
        known = {p[0] for p in props}
        missing = [p for p in extra if p[0] not in known]
        if missing:
            VmomiSupport.CreateDataType(name, wsdl_name, parent, version, list(props) + missing)


_declare()
