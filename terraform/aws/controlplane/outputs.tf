output "address" {
  description = "Public IPv4 of the control plane; clusters get control_plane_cidr = \"<address>/32\"."
  value       = aws_instance.this.public_ip
}

output "ssh_user" {
  description = "Login user of the Debian AMI."
  value       = "admin"
}
