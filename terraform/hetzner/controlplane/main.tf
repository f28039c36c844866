resource "hcloud_ssh_key" "this" {
  name       = "${var.name}-control-plane"
  public_key = trimspace(var.ssh_public_key)
  labels     = { "sentinel-control-plane" = var.name }
}

resource "hcloud_firewall" "this" {
  name   = "${var.name}-control-plane"
  labels = { "sentinel-control-plane" = var.name }

  rule {
    description = "HTTPS (API and UI)"
    direction   = "in"
    protocol    = "tcp"
    port        = "443"
    source_ips  = ["0.0.0.0/0", "::/0"]
  }

  rule {
    description = "ssh from the admin"
    direction   = "in"
    protocol    = "tcp"
    port        = "22"
    source_ips  = [var.admin_cidr]
  }
}

resource "hcloud_server" "this" {
  name         = "${var.name}-control-plane"
  image        = "debian-12"
  server_type  = var.size
  location     = var.region
  ssh_keys     = [hcloud_ssh_key.this.id]
  firewall_ids = [hcloud_firewall.this.id]
  labels       = { "sentinel-control-plane" = var.name }

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }

  lifecycle {
    ignore_changes = [image]
  }
}
