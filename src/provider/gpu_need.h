// What a GPU node asks for: how many GPUs, in which mode (fixed DirectPath I/O, Dynamic
// DirectPath I/O, or a vGPU profile), which devices count as GPUs and which of them it takes,
// and what passthrough needs of the VM (64-bit MMIO). Header-only: the cluster layer builds
// it from the config, the provider places it.
#ifndef VSRAY_PROVIDER_GPU_NEED_H_
#define VSRAY_PROVIDER_GPU_NEED_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vsray::provider {

enum class GpuMode {
  kPassthrough,  // DirectPath I/O: the VM names one device of its host
  kDynamic,      // Dynamic DirectPath I/O: any free device of the allowed ids, bound at power-on
  kVgpu,         // a vGPU profile on a shared GPU
};

// "passthrough", "dynamic", "vgpu".
constexpr std::string_view GpuModeName(GpuMode mode) {
  switch (mode) {
    case GpuMode::kPassthrough:
      return "passthrough";
    case GpuMode::kDynamic:
      return "dynamic";
    case GpuMode::kVgpu:
      return "vgpu";
  }
  return "passthrough";
}

// PCI devices whose class id (base class << 8 | subclass) matches: (class_id & mask) == value.
struct PciClass {
  std::uint16_t value = 0x0300;
  std::uint16_t mask = 0xFF00;

  bool Matches(std::uint16_t class_id) const { return (class_id & mask) == value; }
  friend bool operator==(const PciClass&, const PciClass&) = default;
};

// Display controllers (VGA, XGA, 3D and other display controllers: base class 0x03).
inline std::vector<PciClass> DefaultGpuClasses() { return {PciClass{0x0300, 0xFF00}}; }

struct GpuNeed {
  int count = 0;  // resources.GPU: devices, or vGPUs of the profile
  GpuMode mode = GpuMode::kPassthrough;
  // Narrowing (passthrough and dynamic): only devices with these ids and this custom label.
  std::optional<std::uint16_t> vendor_id;
  std::optional<std::uint16_t> device_id;
  std::string custom_label;
  std::string vgpu_profile;  // kVgpu
  std::vector<PciClass> classes = DefaultGpuClasses();
  // pciPassthru.use64bitMMIO / pciPassthru.64bitMMIOSizeGB (0: vSphere's default size).
  bool use_64bit_mmio = false;
  int mmio_size_gb = 0;
};

}  // namespace vsray::provider

#endif  // VSRAY_PROVIDER_GPU_NEED_H_
