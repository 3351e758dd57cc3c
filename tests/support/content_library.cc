#include "support/content_library.h"

#include <nlohmann/json.hpp>

namespace vsray::testing {

using nlohmann::json;

std::string MinimalOvf(bool frozen_image) {
  std::string ovf = R"(<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:vmw="http://www.vmware.com/schema/ovf"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References/>
  <VirtualSystem ovf:id="frozen">
    <Info>A frozen VM image</Info>
    <Name>frozen</Name>
    <OperatingSystemSection ovf:id="94"><Info>Linux</Info></OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemIdentifier>frozen</vssd:VirtualSystemIdentifier>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>1 virtual CPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>64 MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>64</rasd:VirtualQuantity>
      </Item>
)";
  if (frozen_image) {
    ovf +=
        R"(      <vmw:ExtraConfig ovf:required="false" vmw:key="vsray.frozen_image" vmw:value="TRUE"/>
)";
  }
  ovf += R"(    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
)";
  return ovf;
}

StatusOr<std::string> UploadOvfItem(vsphere::RestClient& rest, vsphere::HttpTransport& transport,
                                    const std::string& library_id, const std::string& item,
                                    const std::string& descriptor) {
  VSRAY_ASSIGN_OR_RETURN(auto item_id, rest.CreateLibraryItem(library_id, item, "ovf"));
  const bool api = rest.flavor() == vsphere::RestFlavor::kApi;
  vsphere::RestRequest create{"create update session",
                              "POST",
                              api ? "/api/content/library/item/update-session"
                                  : "/rest/com/vmware/content/library/item/update-session",
                              api ? json{{"library_item_id", item_id}}
                                  : json{{"create_spec", {{"library_item_id", item_id}}}},
                              false,
                              {}};
  VSRAY_ASSIGN_OR_RETURN(json session, rest.Execute(create));
  if (!session.is_string()) return DataLossError("no update session id: " + session.dump());
  const std::string id = session.get<std::string>();
  vsphere::RestRequest add{
      "add file",
      "POST",
      api ? "/api/content/library/item/updatesession/file/" + id + "?action=add"
          : "/rest/com/vmware/content/library/item/updatesession/file/id:" + id + "?~action=add",
      json{{"file_spec", {{"name", item + ".ovf"}, {"source_type", "PUSH"}}}},
      false,
      {}};
  VSRAY_ASSIGN_OR_RETURN(json file, rest.Execute(add));
  const std::string uri =
      file.is_object() ? file.value("/upload_endpoint/uri"_json_pointer, "") : "";
  if (uri.empty()) return DataLossError("no upload endpoint: " + file.dump());
  vsphere::HttpRequest put;
  put.method = "PUT";
  put.url = uri;
  put.body = descriptor;
  put.headers = {{"vmware-api-session-id", id}, {"Content-Type", "application/octet-stream"}};
  VSRAY_ASSIGN_OR_RETURN(auto uploaded, transport.Send(put));
  if (uploaded.status / 100 != 2) {
    return InternalError("upload: HTTP " + std::to_string(uploaded.status) + " " + uploaded.body);
  }
  vsphere::RestRequest complete{
      "complete update session",
      "POST",
      api ? "/api/content/library/item/update-session/" + id + "?action=complete"
          : "/rest/com/vmware/content/library/item/update-session/id:" + id + "?~action=complete",
      std::nullopt,
      false,
      {}};
  VSRAY_RETURN_IF_ERROR(rest.Execute(complete).status());
  return item_id;
}

}  // namespace vsray::testing
