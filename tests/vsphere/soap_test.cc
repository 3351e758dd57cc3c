#include "vsphere/soap.h"

#include <gtest/gtest.h>

#include <string>

#include "common/retry.h"
#include "support/status_matchers.h"

namespace vsray::vsphere {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::vsray::testing::IsOk;
using ::vsray::testing::StatusIs;

// As vCenter writes a RetrievePropertiesEx reply: xsi prefix, xsd builtins.
constexpr char kVcenterReply[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"
 xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body>
<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>
<token>0</token>
<objects><obj type="VirtualMachine">vm-42</obj>
<propSet><name>name</name><val xsi:type="xsd:string">ray-c-head-&lt;1&gt;</val></propSet>
<propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOn</val></propSet>
<propSet><name>runtime.host</name><val type="HostSystem" xsi:type="ManagedObjectReference">host-9</val></propSet>
<propSet><name>customValue</name><val xsi:type="ArrayOfCustomFieldValue">
<CustomFieldValue xsi:type="CustomFieldStringValue"><key>101</key><value>head</value></CustomFieldValue>
<CustomFieldValue xsi:type="CustomFieldStringValue"><key>102</key><value>up-to-date</value></CustomFieldValue>
</val></propSet>
</objects>
<objects><obj type="VirtualMachine">vm/odd@id[1]</obj><missingSet><path>guest.net</path>
<fault><fault xsi:type="NoPermission"><privilegeId>System.Read</privilegeId></fault><localizedMessage>denied</localizedMessage></fault></missingSet></objects>
</returnval></RetrievePropertiesExResponse>
</soapenv:Body></soapenv:Envelope>)";

// As govmomi's simulator writes typed values: a prefix named after the namespace.
constexpr char kSimulatorReply[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><RetrievePropertiesExResponse xmlns="urn:vim25"><returnval><objects><obj type="VirtualMachine">vm-7</obj>
<propSet><name>runtime.powerState</name><val xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="VirtualMachinePowerState">poweredOff</val></propSet>
</objects></returnval></RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>)";

constexpr char kFaultReply[] = R"(<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode>
<faultstring>The attempted operation cannot be performed in the current state (Powered on).</faultstring>
<detail><InvalidPowerStateFault xmlns="urn:vim25" xsi:type="InvalidPowerState"><requestedState>poweredOff</requestedState><existingState>poweredOn</existingState></InvalidPowerStateFault></detail>
</soapenv:Fault></soapenv:Body></soapenv:Envelope>)";

constexpr char kUntypedFaultReply[] = R"(<?xml version="1.0"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
<soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring>
<detail><NotAuthenticatedFault xmlns="urn:vim25"><object type="Folder">group-d1</object></NotAuthenticatedFault></detail>
</soapenv:Fault></soapenv:Body></soapenv:Envelope>)";

TEST(SoapDecodeTest, DecodesVcenterPropertiesWithTypesAndEscapes) {
  auto reply = DecodeSoapResponse(kVcenterReply, "RetrievePropertiesEx");
  ASSERT_THAT(reply, IsOk());
  const Any* result = reply->Get("returnval");
  ASSERT_NE(result, nullptr);
  const auto objects = result->All("objects");
  ASSERT_EQ(objects.size(), 2U);
  EXPECT_EQ(objects[0]->Get("obj")->AsMoRef(), (MoRef{"VirtualMachine", "vm-42"}));
  const auto props = objects[0]->All("propSet");
  ASSERT_EQ(props.size(), 4U);
  EXPECT_EQ(props[0]->TextAt("val"), "ray-c-head-<1>");
  EXPECT_EQ(props[0]->Get("val")->xsi_type, "string");
  EXPECT_EQ(props[1]->Get("val")->xsi_type, "VirtualMachinePowerState");
  EXPECT_EQ(props[2]->Get("val")->AsMoRef(), (MoRef{"HostSystem", "host-9"}));
  const auto values = props[3]->Get("val")->All("CustomFieldValue");
  ASSERT_EQ(values.size(), 2U);
  EXPECT_EQ(values[1]->xsi_type, "CustomFieldStringValue");
  EXPECT_EQ(values[1]->TextAt("value"), "up-to-date");
  // Opaque ids survive as they are.
  EXPECT_EQ(objects[1]->Get("obj")->text, "vm/odd@id[1]");
  EXPECT_EQ(objects[1]->Path("missingSet.fault.fault")->xsi_type, "NoPermission");
}

TEST(SoapDecodeTest, ResolvesSimulatorNamespacePrefix) {
  auto reply = DecodeSoapResponse(kSimulatorReply, "RetrievePropertiesEx");
  ASSERT_THAT(reply, IsOk());
  const Any* val = reply->Path("returnval.objects.propSet.val");
  ASSERT_NE(val, nullptr);
  EXPECT_EQ(val->xsi_type, "VirtualMachinePowerState");
  EXPECT_EQ(val->text, "poweredOff");
}

TEST(SoapDecodeTest, TypeAttributeWithUnboundPrefixIsNotXsi) {
  constexpr char kReply[] =
      R"(<Envelope><Body><XResponse><returnval xmlns:foo="urn:other" foo:type="Nope">1</returnval></XResponse></Body></Envelope>)";
  auto reply = DecodeSoapResponse(kReply, "X");
  ASSERT_THAT(reply, IsOk());
  EXPECT_EQ(reply->Get("returnval")->xsi_type, "");
}

TEST(SoapDecodeTest, FaultBecomesStatusWithType) {
  auto reply = DecodeSoapResponse(kFaultReply, "PowerOnVM_Task");
  ASSERT_THAT(reply, Not(IsOk()));
  EXPECT_THAT(reply, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(reply.status().fault(), "InvalidPowerState");
  EXPECT_NE(reply.status().message().find("current state (Powered on)"), std::string::npos);
}

TEST(SoapDecodeTest, FaultTypeFromElementNameWhenUntyped) {
  auto reply = DecodeSoapResponse(kUntypedFaultReply, "RetrievePropertiesEx");
  ASSERT_THAT(reply, Not(IsOk()));
  EXPECT_THAT(reply, StatusIs(StatusCode::kUnauthenticated));
  EXPECT_EQ(reply.status().fault(), "NotAuthenticated");
}

TEST(SoapDecodeTest, NoPermissionNamesPrivilegeAndEntity) {
  constexpr const char* kReply =
      R"(<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Permission to perform this operation was denied.</faultstring><detail><NoPermissionFault xmlns="urn:vim25" xsi:type="NoPermission"><object type="VirtualMachine">vm-42</object><privilegeId>VirtualMachine.Interact.PowerOff</privilegeId></NoPermissionFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>)";
  auto reply = DecodeSoapResponse(kReply, "PowerOffVM_Task");
  ASSERT_THAT(reply, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_EQ(reply.status().fault(), "NoPermission");
  EXPECT_THAT(
      reply.status().message(),
      HasSubstr("privilege VirtualMachine.Interact.PowerOff missing on VirtualMachine vm-42"));
  EXPECT_EQ(reply.status().message().find('\n'), std::string::npos);
}

TEST(SoapDecodeTest, GarbageIsDataLossNamingTheMethod) {
  for (const char* garbage : {"", "<html><body>502 Bad Gateway</body></html>", "\x01\x02\xff",
                              "<Envelope><Body></Body></Envelope>", "<a><b></a>"}) {
    auto reply = DecodeSoapResponse(garbage, "CreateFilter");
    ASSERT_THAT(reply, Not(IsOk())) << garbage;
    EXPECT_THAT(reply, StatusIs(StatusCode::kDataLoss)) << garbage;
    EXPECT_NE(reply.status().message().find("CreateFilter"), std::string::npos);
  }
}

TEST(SoapDecodeTest, DeepNestingIsRefusedNotRecursedInto) {
  std::string deep = "<Envelope><Body><XResponse>";
  for (int i = 0; i < 100000; ++i) deep += "<a>";
  for (int i = 0; i < 100000; ++i) deep += "</a>";
  auto reply = DecodeSoapResponse(deep + "</XResponse></Body></Envelope>", "X");
  ASSERT_THAT(reply, Not(IsOk()));
  EXPECT_THAT(reply, StatusIs(StatusCode::kDataLoss));
  EXPECT_NE(reply.status().message().find("nested too deeply"), std::string::npos);
}

TEST(SoapDecodeTest, WrongResponseElementIsDataLoss) {
  auto reply = DecodeSoapResponse(kSimulatorReply, "CreateFilter");
  ASSERT_THAT(reply, Not(IsOk()));
  EXPECT_THAT(reply, StatusIs(StatusCode::kDataLoss));
}

TEST(SoapFaultTest, CodesAndTransience) {
  EXPECT_EQ(FaultCode("ManagedObjectNotFound"), StatusCode::kNotFound);
  EXPECT_EQ(FaultCode("DuplicateName"), StatusCode::kAlreadyExists);
  EXPECT_EQ(FaultCode("NoPermission"), StatusCode::kPermissionDenied);
  EXPECT_EQ(FaultCode("InvalidArgument"), StatusCode::kInvalidArgument);
  EXPECT_EQ(FaultCode("SomethingNew"), StatusCode::kUnknown);
  // Transience follows from the code: one retry rule for every fault.
  for (const char* transient : {"HostCommunication", "HostNotConnected", "SystemError",
                                "TaskInProgress", "ConcurrentAccess", "Timedout"}) {
    EXPECT_TRUE(IsTransient(FaultStatus(transient, ""))) << transient;
  }
  for (const char* permanent : {"InvalidPowerState", "NotAuthenticated", "NoPermission",
                                "ManagedObjectNotFound", "DuplicateName", "RequestCanceled"}) {
    EXPECT_FALSE(IsTransient(FaultStatus(permanent, ""))) << permanent;
  }
  EXPECT_TRUE(IsTransient(FaultStatus("HostCommunication", "x")));
  EXPECT_FALSE(IsTransient(FaultStatus("InsufficientResourcesFault", "x")));
}

TEST(SoapFaultTest, MethodFaultFromTaskInfo) {
  Any error;
  error.xsi_type = "LocalizedMethodFault";
  Any& fault = error.Add("fault");
  fault.xsi_type = "InvalidState";
  error.Add("localizedMessage", "The operation is not allowed in the current state.");
  const Status status = StatusFromMethodFault(error);
  EXPECT_EQ(status.fault(), "InvalidState");
  EXPECT_THAT(status, StatusIs(StatusCode::kFailedPrecondition));
  EXPECT_EQ(status.message(), "InvalidState: The operation is not allowed in the current state.");
}

TEST(SoapFaultTest, NoPermissionFromTaskInfoNamesPrivilegeAndEntity) {
  Any error;
  error.xsi_type = "LocalizedMethodFault";
  Any& fault = error.Add("fault");
  fault.xsi_type = "NoPermission";
  Any& object = fault.Add("object", "group-v7");
  object.mo_type = "Folder";
  fault.Add("privilegeId", "Folder.Create");
  const Status status = StatusFromMethodFault(error);
  EXPECT_THAT(status, StatusIs(StatusCode::kPermissionDenied));
  EXPECT_THAT(status.message(), HasSubstr("privilege Folder.Create missing on Folder group-v7"));
}

TEST(XmlWriterTest, EscapesTextAndAttributes) {
  XmlWriter w;
  w.Leaf("name", "a<b>&\"c'\x01");
  w.Ref("_this", {"Folder", "group-\"1\""});
  EXPECT_EQ(w.str(),
            "<name>a&lt;b&gt;&amp;&quot;c&apos;</name>"
            "<_this type=\"Folder\">group-&quot;1&quot;</_this>");
}

TEST(XmlWriterTest, ValueRoundTripsThroughDecode) {
  auto reply = DecodeSoapResponse(kVcenterReply, "RetrievePropertiesEx");
  ASSERT_THAT(reply, IsOk());
  const Any* values = reply->Path("returnval.objects.propSet");
  ASSERT_NE(values, nullptr);
  XmlWriter w;
  w.Open("RetrievePropertiesExResponse xmlns=\"urn:vim25\"");
  w.Value("returnval", *reply->Get("returnval"));
  w.Close("RetrievePropertiesExResponse");
  auto again = DecodeSoapResponse(SoapEnvelope(w.str()), "RetrievePropertiesEx");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->TextAt("returnval.objects.propSet.val"), "ray-c-head-<1>");
  EXPECT_EQ(again->Path("returnval.objects.propSet.val")->xsi_type, "string");
  // Builtin types are written back with the xsd prefix.
  EXPECT_NE(w.str().find("xsi:type=\"xsd:string\""), std::string::npos);
  EXPECT_NE(w.str().find("xsi:type=\"VirtualMachinePowerState\""), std::string::npos);
}

}  // namespace
}  // namespace vsray::vsphere
