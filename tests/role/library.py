"""Puts a frozen-VM image (a minimal OVF carrying vsray-sim's frozen-image marker) into a
content library of vsray-sim, through the vAPI REST API, as a VI admin would."""

import base64
import json
import ssl
import urllib.error
import urllib.request

OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:vmw="http://www.vmware.com/schema/ovf"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References/>
  <VirtualSystem ovf:id="frozen">
    <Info>A frozen-VM image for the role tests</Info>
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
      <vmw:ExtraConfig ovf:required="false" vmw:key="vsray.frozen_image" vmw:value="TRUE"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


class Rest:
    """A vAPI /api session of one user."""

    def __init__(self, base, ca_file, user, password):
        self.base = base
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(cafile=ca_file)
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                  urllib.request.HTTPSHandler(context=ctx))
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.session = self.call("POST", "/api/session", headers={"Authorization": "Basic " + token})

    def call(self, method, path, body=None, headers=None, raw=None, url=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(url or self.base + path, data=data, method=method)
        req.add_header("Content-Type", "application/json" if raw is None else "application/octet-stream")
        if getattr(self, "session", None):
            req.add_header("vmware-api-session-id", self.session)
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with self.opener.open(req, timeout=30) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{method} {path}: HTTP {err.code} {err.read()!r}") from None
        return json.loads(payload) if payload else None


def upload_frozen_image(base, ca_file, user, password, datastore_id, library="images", item="frozen"):
    """Creates library `library` on the datastore and item `item` holding the OVF."""
    rest = Rest(base, ca_file, user, password)
    library_id = rest.call("POST", "/api/content/local-library", {
        "name": library, "type": "LOCAL",
        "storage_backings": [{"type": "DATASTORE", "datastore_id": datastore_id}]})
    item_id = rest.call("POST", "/api/content/library/item",
                        {"library_id": library_id, "name": item, "type": "ovf"})
    session = rest.call("POST", "/api/content/library/item/update-session",
                        {"library_item_id": item_id})
    added = rest.call("POST", f"/api/content/library/item/updatesession/file/{session}?action=add",
                      {"file_spec": {"name": item + ".ovf", "source_type": "PUSH"}})
    rest.call("PUT", "", raw=OVF.encode(), url=added["upload_endpoint"]["uri"],
              headers={"vmware-api-session-id": session})
    rest.call("POST", f"/api/content/library/item/update-session/{session}?action=complete")
    return f"{library}/{item}"
