"""A frozen-VM image in a content library of vsray-sim (library "images", item "frozen-image"),
uploaded through the /api routes as a user would."""

from simharness import PASSWORD, USER

FROZEN_OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
    xmlns:vmw="http://www.vmware.com/schema/ovf"
    xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
    xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References/>
  <VirtualSystem ovf:id="frozen">
    <Info>A frozen VM image</Info>
    <Name>frozen</Name>
    <VirtualHardwareSection>
      <Info>Virtual hardware</Info>
      <System><vssd:InstanceID>0</vssd:InstanceID><vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType></System>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>64</rasd:VirtualQuantity></Item>
      <vmw:ExtraConfig ovf:required="false" vmw:key="vsray.frozen_image" vmw:value="TRUE"/>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
"""


def upload_frozen_image(sim):
    si = sim.connect()
    [dc] = si.RetrieveContent().rootFolder.childEntity
    datastore = dc.datastore[0]._moId
    _, token = sim.http("POST", "/api/session", auth=(USER, PASSWORD))
    headers = {"vmware-api-session-id": token}

    def call(method, path, body=None, expect=200):
        status, reply = sim.http(method, "/api" + path, body, headers=headers)
        assert status == expect, (method, path, status, reply)
        return reply

    lib = call("POST", "/content/local-library", {"name": "images", "type": "LOCAL", "storage_backings": [
        {"type": "DATASTORE", "datastore_id": datastore}]}, expect=201)
    item = call("POST", "/content/library/item", {"library_id": lib, "name": "frozen-image", "type": "ovf"},
                expect=201)
    session = call("POST", "/content/library/item/update-session", {"library_item_id": item}, expect=201)
    added = call("POST", f"/content/library/item/updatesession/file/{session}?action=add",
                 {"name": "frozen-image.ovf", "source_type": "PUSH"})
    uri = added["upload_endpoint"]["uri"]
    status, _ = sim.http("PUT", uri[len(sim.base):], raw=FROZEN_OVF.encode(),
                         headers={"vmware-api-session-id": session, "Content-Type": "application/octet-stream"})
    assert status == 200
    call("POST", f"/content/library/item/update-session/{session}?action=complete", expect=204)
    return item
