# The output set is the contract shared by every module under terraform/.

output "manager_address" {
  description = "Address the control plane uses for ssh/docker: the manager's public IPv4."
  value       = aws_instance.node[0].public_ip
}

output "manager_private_address" {
  description = "The manager's address on the VPC (swarm advertise address)."
  value       = aws_instance.node[0].private_ip
}

output "worker_addresses" {
  description = "Public IPv4 of each worker, in node order."
  value       = slice(aws_instance.node[*].public_ip, 1, var.nodes)
}

output "worker_private_addresses" {
  description = "VPC address of each worker, in node order."
  value       = slice(aws_instance.node[*].private_ip, 1, var.nodes)
}

output "ssh_user" {
  description = "Login user of the Debian AMI (sudo without password)."
  value       = "admin"
}

output "edge_addresses" {
  description = "The edge's one public IPv4: the network load balancer's Elastic IP (not its DNS name), in front of Traefik on the managers, TCP 80/443 passed through."
  value       = [aws_eip.edge.public_ip]
}

output "floating_address" {
  description = "No VRRP address in a cloud: the load balancer's address (edge_addresses) is the edge's one address."
  value       = ""
}

output "backup_repository" {
  description = "Where the apps' pgBackRest repositories live: the cluster's S3 bucket, reached with the nodes' instance role (repo1-s3-*)."
  value = {
    type      = "s3"
    bucket    = aws_s3_bucket.backups.bucket
    endpoint  = "s3.${var.region}.${data.aws_partition.current.dns_suffix}"
    region    = var.region
    uri_style = "host"
    key_type  = "auto"
  }
}
