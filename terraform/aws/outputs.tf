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
  description = "Public IPv4 addresses that serve 80/443: every node (swarm routing mesh)."
  value       = aws_instance.node[*].public_ip
}
