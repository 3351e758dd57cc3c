#include "config/ray_keys.h"

namespace vsray::config {

const std::vector<std::string>& RayTopLevelKeys() {
  static const std::vector<std::string> keys = {
      "cluster_name",
      "max_workers",
      "upscaling_speed",
      "idle_timeout_minutes",
      "provider",
      "auth",
      "docker",
      "head_node_type",
      "available_node_types",
      "file_mounts",
      "cluster_synced_files",
      "file_mounts_sync_continuously",
      "rsync_exclude",
      "rsync_filter",
      "metadata",
      "initialization_commands",
      "setup_commands",
      "head_setup_commands",
      "worker_setup_commands",
      "head_start_ray_commands",
      "worker_start_ray_commands",
      "no_restart",  // set by `ray up --no-restart` in the head's copy of the config
  };
  return keys;
}

const std::vector<std::string>& RayNodeTypeKeys() {
  static const std::vector<std::string> keys = {"node_config",
                                                "resources",
                                                "min_workers",
                                                "max_workers",
                                                "idle_timeout_s",
                                                "labels",
                                                "initialization_commands",
                                                "worker_setup_commands",
                                                "docker"};
  return keys;
}

const std::vector<std::string>& RayAuthKeys() {
  static const std::vector<std::string> keys = {"ssh_user", "ssh_private_key", "ssh_public_key",
                                                "ssh_proxy_command"};
  return keys;
}

const std::vector<std::string>& RayDockerKeys() {
  static const std::vector<std::string> keys = {
      "image",
      "container_name",
      "pull_before_run",
      "run_options",
      "head_image",
      "head_run_options",
      "worker_image",
      "worker_run_options",
      "disable_automatic_runtime_detection",
      "disable_shm_size_detection",
      "use_podman",
  };
  return keys;
}

const std::vector<std::string>& RayNodeTypeDockerKeys() {
  static const std::vector<std::string> keys = {"pull_before_run", "worker_image",
                                                "worker_run_options"};
  return keys;
}

const std::vector<std::string>& RayCommandKeys() {
  static const std::vector<std::string> keys = {
      "initialization_commands", "setup_commands",          "head_setup_commands",
      "worker_setup_commands",   "head_start_ray_commands", "worker_start_ray_commands"};
  return keys;
}

std::vector<std::string> RayDefaultCommands(std::string_view key) {
  if (key == "head_start_ray_commands") {
    return {"ray stop",
            "ulimit -n 65536; ray start --head --port=6379 --object-manager-port=8076 "
            "--autoscaling-config=~/ray_bootstrap_config.yaml --dashboard-host=0.0.0.0"};
  }
  if (key == "worker_start_ray_commands") {
    return {"ray stop",
            "ulimit -n 65536; ray start --address=$RAY_HEAD_IP:6379 --object-manager-port=8076"};
  }
  return {};
}

}  // namespace vsray::config
