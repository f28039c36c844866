resource "digitalocean_ssh_key" "this" {
  name       = "${var.name}-control-plane"
  public_key = trimspace(var.ssh_public_key)
}

# Lands in the region's default VPC: the control plane reaches clusters over their
# public addresses (ssh only), never over a private network.
resource "digitalocean_droplet" "this" {
  name     = "${var.name}-control-plane"
  image    = "debian-12-x64"
  size     = var.size
  region   = var.region
  ssh_keys = [digitalocean_ssh_key.this.fingerprint]
  ipv6     = true
  tags     = ["sentinel", "sentinel-control-plane"]

  lifecycle {
    ignore_changes = [image]
  }
}

resource "digitalocean_firewall" "this" {
  name        = "${var.name}-control-plane"
  droplet_ids = [digitalocean_droplet.this.id]

  inbound_rule {
    protocol         = "tcp"
    port_range       = "443"
    source_addresses = ["0.0.0.0/0", "::/0"]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "22"
    source_addresses = [var.admin_cidr]
  }

  outbound_rule {
    protocol              = "tcp"
    port_range            = "1-65535"
    destination_addresses = ["0.0.0.0/0", "::/0"]
  }

  outbound_rule {
    protocol              = "udp"
    port_range            = "1-65535"
    destination_addresses = ["0.0.0.0/0", "::/0"]
  }

  outbound_rule {
    protocol              = "icmp"
    destination_addresses = ["0.0.0.0/0", "::/0"]
  }
}
