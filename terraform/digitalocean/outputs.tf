# The output set is the contract shared by every module under terraform/.

output "manager_address" {
  description = "Address the control plane uses for ssh/docker: the manager's public IPv4."
  value       = digitalocean_droplet.node[0].ipv4_address
}

output "manager_private_address" {
  description = "The manager's address on the VPC (swarm advertise address)."
  value       = digitalocean_droplet.node[0].ipv4_address_private
}

output "worker_addresses" {
  description = "Public IPv4 of each worker, in node order."
  value       = slice(digitalocean_droplet.node[*].ipv4_address, 1, var.nodes)
}

output "worker_private_addresses" {
  description = "VPC address of each worker, in node order."
  value       = slice(digitalocean_droplet.node[*].ipv4_address_private, 1, var.nodes)
}

output "ssh_user" {
  description = "DigitalOcean's Debian image logs in as root."
  value       = "root"
}

output "edge_addresses" {
  description = "The edge's one public IPv4: the load balancer in front of Traefik on the managers, TCP 80/443 passed through."
  value       = [digitalocean_loadbalancer.edge.ip]
}

output "floating_address" {
  description = "No VRRP address in a cloud: the load balancer's address (edge_addresses) is the edge's one address."
  value       = ""
}

output "backup_repository" {
  description = "Where the apps' pgBackRest repositories live: the cluster's Spaces bucket and the nodes' bucket-scoped key (repo1-s3-*)."
  sensitive   = true
  value = {
    type              = "s3"
    bucket            = digitalocean_spaces_bucket.backups.name
    endpoint          = digitalocean_spaces_bucket.backups.endpoint # <region>.digitaloceanspaces.com
    region            = digitalocean_spaces_bucket.backups.region
    uri_style         = "host"
    key_type          = "shared"
    access_key_id     = digitalocean_spaces_key.backups.access_key
    secret_access_key = digitalocean_spaces_key.backups.secret_key
  }
}
