// PCI passthrough on the wire: host GPUs and VM passthrough devices decoded from replies as
// vCenter writes them, and the devices a ReconfigVM_Task adds, in the schema's order.
#include "vsphere/passthrough.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "support/status_matchers.h"
#include "vsphere/soap.h"

namespace vsray::vsphere {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::SizeIs;
using ::vsray::testing::IsOk;
using Backing = PciPassthroughSpec::Backing;

constexpr char kHostReply[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<objects><obj type="HostSystem">host-21</obj>
<propSet><name>name</name><val xsi:type="xsd:string">esx-1</val></propSet>
<propSet><name>hardware.pciDevice</name><val xsi:type="ArrayOfHostPciDevice">
<HostPciDevice xsi:type="HostPciDevice"><id>0000:00:00.0</id><classId>1536</classId><bus>0</bus><slot>0</slot><function>0</function><vendorId>-32634</vendorId><subVendorId>0</subVendorId><vendorName>Intel Corporation</vendorName><deviceId>29072</deviceId><subDeviceId>0</subDeviceId><parentBridge></parentBridge><deviceName>Host bridge</deviceName></HostPciDevice>
<HostPciDevice xsi:type="HostPciDevice"><id>0000:3B:00.0</id><classId>770</classId><bus>59</bus><slot>0</slot><function>0</function><vendorId>4318</vendorId><subVendorId>4318</subVendorId><vendorName>NVIDIA Corporation</vendorName><deviceId>8433</deviceId><subDeviceId>0</subDeviceId><deviceName>GA100 [A100 PCIe 40GB]</deviceName></HostPciDevice>
<HostPciDevice xsi:type="HostPciDevice"><id>0000:3c:00.0</id><classId>770</classId><bus>60</bus><slot>0</slot><function>0</function><vendorId>4318</vendorId><subVendorId>4318</subVendorId><vendorName>NVIDIA Corporation</vendorName><deviceId>7864</deviceId><subDeviceId>0</subDeviceId><deviceName>TU104GL [Tesla T4]</deviceName></HostPciDevice>
</val></propSet>
<propSet><name>config.pciPassthruInfo</name><val xsi:type="ArrayOfHostPciPassthruInfo">
<HostPciPassthruInfo xsi:type="HostPciPassthruInfo"><id>0000:3b:00.0</id><dependentDevice>0000:3b:00.0</dependentDevice><passthruEnabled>true</passthruEnabled><passthruCapable>true</passthruCapable><passthruActive>true</passthruActive></HostPciPassthruInfo>
<HostPciPassthruInfo xsi:type="HostPciPassthruInfo"><id>0000:3c:00.0</id><dependentDevice>0000:3c:00.0</dependentDevice><passthruEnabled>false</passthruEnabled><passthruCapable>true</passthruCapable><passthruActive>false</passthruActive></HostPciPassthruInfo>
</val></propSet>
<propSet><name>config.graphicsInfo</name><val xsi:type="ArrayOfHostGraphicsInfo">
<HostGraphicsInfo xsi:type="HostGraphicsInfo"><deviceName>TU104GL [Tesla T4]</deviceName><vendorName>NVIDIA Corporation</vendorName><pciId>0000:3c:00.0</pciId><graphicsType>sharedDirect</graphicsType><memorySizeInKB>16777216</memorySizeInKB><vm type="VirtualMachine">vm-7</vm></HostGraphicsInfo>
</val></propSet>
<propSet><name>config.sharedPassthruGpuTypes</name><val xsi:type="ArrayOfString"><string>grid_t4-4c</string><string>grid_t4-8c</string></val></propSet>
<propSet><name>config.assignableHardwareConfig</name><val xsi:type="HostAssignableHardwareConfig"><attributeOverride><instanceId>0000:3b:00.0</instanceId><name>customLabel</name><value xsi:type="xsd:string">big</value></attributeOverride></val></propSet>
<propSet><name>config.assignableHardwareBinding</name><val xsi:type="ArrayOfHostAssignableHardwareBinding"><HostAssignableHardwareBinding xsi:type="HostAssignableHardwareBinding"><instanceId>0000:3b:00.0</instanceId><vm type="VirtualMachine">vm-5</vm></HostAssignableHardwareBinding></val></propSet>
</objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>)";

constexpr char kDevicesReply[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<objects><obj type="VirtualMachine">vm-5</obj>
<propSet><name>config.hardware.device</name><val xsi:type="ArrayOfVirtualDevice">
<VirtualDevice xsi:type="VirtualVmxnet3"><key>4000</key><macAddress>00:50:56:00:00:01</macAddress></VirtualDevice>
<VirtualDevice xsi:type="VirtualPCIPassthrough"><key>13000</key><backing xsi:type="VirtualPCIPassthroughDeviceBackingInfo"><deviceName>GA100</deviceName><id>3b:00.0</id><deviceId>20f1</deviceId><systemId>5f3c-1</systemId><vendorId>4318</vendorId></backing></VirtualDevice>
<VirtualDevice xsi:type="VirtualPCIPassthrough"><key>13001</key><backing xsi:type="VirtualPCIPassthroughDynamicBackingInfo"><deviceName></deviceName><allowedDevice><vendorId>4318</vendorId><deviceId>8437</deviceId></allowedDevice><customLabel>big</customLabel><assignedId>0000:3d:00.0</assignedId></backing></VirtualDevice>
<VirtualDevice xsi:type="VirtualPCIPassthrough"><key>13002</key><backing xsi:type="VirtualPCIPassthroughVmiopBackingInfo"><vgpu>grid_t4-4c</vgpu></backing></VirtualDevice>
</val></propSet>
</objects>
</returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>)";

ObjectContent FirstObject(const char* xml) {
  auto reply = DecodeSoapResponse(xml, "RetrievePropertiesEx");
  EXPECT_THAT(reply, IsOk());
  const Any* objects = reply.ok() ? reply->Path("returnval.objects") : nullptr;
  return objects == nullptr ? ObjectContent{} : DecodeObjectContent(*objects);
}

TEST(PassthroughDecodeTest, HostDevicesWithPassthroughGraphicsLabelsAndBindings) {
  const HostGpuInfo host = DecodeHostGpus(FirstObject(kHostReply));
  EXPECT_EQ(host.host, (MoRef{"HostSystem", "host-21"}));
  EXPECT_EQ(host.name, "esx-1");
  ASSERT_THAT(host.devices, SizeIs(3));
  const HostPciDeviceInfo& bridge = host.devices[0];
  EXPECT_EQ(bridge.vendor_id, 0x8086);  // a signed short on the wire
  EXPECT_EQ(bridge.class_id, 0x0600);
  const HostPciDeviceInfo& a100 = host.devices[1];
  EXPECT_EQ(a100.id, "0000:3b:00.0");  // lower case
  EXPECT_EQ(a100.class_id, 0x0302);
  EXPECT_EQ(a100.vendor_id, 0x10de);
  EXPECT_EQ(a100.device_id, 0x20f1);
  EXPECT_EQ(a100.device_name, "GA100 [A100 PCIe 40GB]");
  EXPECT_TRUE(a100.passthrough_enabled);
  EXPECT_EQ(a100.custom_label, "big");
  const HostPciDeviceInfo& t4 = host.devices[2];
  EXPECT_FALSE(t4.passthrough_enabled);
  EXPECT_EQ(t4.graphics_type, "sharedDirect");
  EXPECT_EQ(t4.memory_kb, 16LL * 1024 * 1024);
  EXPECT_THAT(t4.graphics_vms, ElementsAre("vm-7"));
  EXPECT_THAT(host.vgpu_profiles, ElementsAre("grid_t4-4c", "grid_t4-8c"));
  EXPECT_EQ(host.bindings.at("0000:3b:00.0"), "vm-5");
}

TEST(PassthroughDecodeTest, VmDevicesOfTheThreeBackings) {
  const ObjectContent vm = FirstObject(kDevicesReply);
  const Any* devices = vm.Get("config.hardware.device");
  ASSERT_NE(devices, nullptr);
  const auto passthrough = DecodePassthroughDevices(*devices);
  ASSERT_THAT(passthrough, SizeIs(3));
  EXPECT_EQ(passthrough[0].backing, Backing::kFixed);
  EXPECT_EQ(passthrough[0].id, "0000:3b:00.0");
  EXPECT_EQ(passthrough[0].vendor_id, 0x10de);
  EXPECT_EQ(passthrough[0].device_id, 0x20f1);
  EXPECT_EQ(passthrough[1].backing, Backing::kDynamic);
  EXPECT_EQ(passthrough[1].id, "0000:3d:00.0");
  EXPECT_EQ(passthrough[1].device_id, 0x20f5);
  EXPECT_EQ(passthrough[1].custom_label, "big");
  EXPECT_EQ(passthrough[2].backing, Backing::kVgpu);
  EXPECT_EQ(passthrough[2].vgpu, "grid_t4-4c");
  EXPECT_EQ(NormalizePciId(" 3B:00.1 "), "0000:3b:00.1");
}

TEST(PassthroughEncodeTest, AReconfigureAddsDevicesAndLocksMemory) {
  ConfigSpec spec;
  spec.num_cpus = 8;
  PciPassthroughSpec fixed;
  fixed.id = "0000:3b:00.0";
  fixed.system_id = "5f3c-1";
  fixed.vendor_id = 0x8086;  // above 0x7fff: written as a signed short
  fixed.device_id = 0x20f1;
  fixed.device_name = "GA100 <A100>";
  PciPassthroughSpec dynamic;
  dynamic.backing = Backing::kDynamic;
  dynamic.vendor_id = 0x10de;
  dynamic.device_id = 0x20f1;
  dynamic.custom_label = "big";
  PciPassthroughSpec vgpu;
  vgpu.backing = Backing::kVgpu;
  vgpu.vgpu = "grid_t4-4c";
  spec.add_passthrough = {fixed, dynamic, vgpu};
  spec.extra_config = {{"pciPassthru.use64bitMMIO", "TRUE"}};
  spec.memory_reservation_locked_to_max = true;
  XmlWriter w;
  WriteConfigSpec(w, "spec", spec);
  const std::string xml = w.str();
  EXPECT_THAT(xml,
              HasSubstr("<operation>add</operation><device xsi:type=\"VirtualPCIPassthrough\">"
                        "<key>-100</key><backing xsi:type=\"VirtualPCIPassthroughDeviceBacking"
                        "Info\"><deviceName>GA100 &lt;A100&gt;</deviceName><id>0000:3b:00.0</id>"
                        "<deviceId>20f1</deviceId><systemId>5f3c-1</systemId>"
                        "<vendorId>-32634</vendorId></backing>"));
  EXPECT_THAT(xml, HasSubstr("<key>-101</key><backing xsi:type=\"VirtualPCIPassthroughDynamic"
                             "BackingInfo\"><deviceName></deviceName><allowedDevice><vendorId>4318"
                             "</vendorId><deviceId>8433</deviceId></allowedDevice><customLabel>big"
                             "</customLabel></backing>"));
  EXPECT_THAT(xml, HasSubstr("<key>-102</key><backing xsi:type=\"VirtualPCIPassthroughVmiop"
                             "BackingInfo\"><vgpu>grid_t4-4c</vgpu></backing>"));
  // Schema order: numCPUs, deviceChange, extraConfig, memoryReservationLockedToMax.
  const auto cpus = xml.find("<numCPUs>");
  const auto devices = xml.find("<deviceChange>");
  const auto extra = xml.find("<extraConfig>");
  const auto locked = xml.find("<memoryReservationLockedToMax>true<");
  ASSERT_NE(locked, std::string::npos);
  EXPECT_LT(cpus, devices);
  EXPECT_LT(devices, extra);
  EXPECT_LT(extra, locked);
  EXPECT_EQ(PciIdHex(0x10de), "10de");
  EXPECT_EQ(PciIdHex(0x0302), "0302");
}

}  // namespace
}  // namespace vsray::vsphere
