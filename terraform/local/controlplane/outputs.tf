output "address" {
  description = "The server's address on the cluster network (this host reaches it directly)."
  value       = local.address
}

output "ssh_user" {
  value = "root"
}

output "api_url" {
  description = "Where the CLI on this host reaches the control plane's HTTPS port."
  value       = "https://127.0.0.1:${local.api_port}"
}
