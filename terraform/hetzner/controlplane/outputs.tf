output "address" {
  description = "Public IPv4 of the control plane; clusters get control_plane_cidr = \"<address>/32\"."
  value       = hcloud_server.this.ipv4_address
}

output "ssh_user" {
  description = "Hetzner's Debian image logs in as root."
  value       = "root"
}
