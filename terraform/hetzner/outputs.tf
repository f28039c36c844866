# The output set is the contract shared by every module under terraform/.

output "manager_address" {
  description = "Address the control plane uses for ssh/docker: the manager's public IPv4."
  value       = hcloud_server.node[0].ipv4_address
}

output "manager_private_address" {
  description = "The manager's address on the private network (swarm advertise address)."
  value       = one([for n in hcloud_server.node[0].network : n.ip])
}

output "worker_addresses" {
  description = "Public IPv4 of each worker, in node order."
  value       = slice(hcloud_server.node[*].ipv4_address, 1, var.nodes)
}

output "worker_private_addresses" {
  description = "Private network address of each worker, in node order."
  value       = [for s in slice(hcloud_server.node, 1, var.nodes) : one([for n in s.network : n.ip])]
}

output "ssh_user" {
  description = "Hetzner's Debian image logs in as root."
  value       = "root"
}

output "edge_addresses" {
  description = "The edge's one public IPv4: the load balancer (lb11) in front of Traefik on the managers, TCP 80/443 passed through."
  value       = [hcloud_load_balancer.edge.ipv4]
}

output "floating_address" {
  description = "No VRRP address in a cloud: the load balancer's address (edge_addresses) is the edge's one address."
  value       = ""
}

output "backup_repository" {
  description = "Where the apps' pgBackRest repositories live: the cluster's Object Storage bucket and the project's S3 keys (repo1-s3-*)."
  sensitive   = true
  value = {
    type              = "s3"
    bucket            = minio_s3_bucket.backups.bucket
    endpoint          = local.s3_endpoint # <location>.your-objectstorage.com
    region            = local.s3_location
    uri_style         = "host"
    key_type          = "shared"
    access_key_id     = local.s3_access_key_id
    secret_access_key = local.s3_secret_access_key
  }
}
