output "manager_address" {
  description = "Address the control plane uses to reach the manager."
  value       = local.addresses[0]
}

output "manager_private_address" {
  description = "The manager's address inside the cluster's private network."
  value       = local.addresses[0]
}

output "worker_addresses" {
  value = slice(local.addresses, 1, var.nodes)
}

output "worker_private_addresses" {
  value = slice(local.addresses, 1, var.nodes)
}

output "ssh_user" {
  value = "root"
}

output "edge_addresses" {
  description = "Addresses that serve 80/443: the floating address from 3 nodes on, else this host (the manager's published ports)."
  value       = local.floating_address != "" ? [local.floating_address] : ["127.0.0.1"]
}

output "floating_address" {
  description = "The edge's address that moves between the managers (VRRP), \"\" below 3 nodes; the host reaches it on the nodes' network."
  value       = local.floating_address
}

output "backup_repository" {
  description = "Where the apps' backup repositories live: a backup node (pgBackRest's TLS server) or object storage."
  value = {
    type            = "node"
    name            = local.backup_name
    address         = local.backup_address
    private_address = local.backup_address
  }
}
