locals {
  # The network is private to this cluster, so a fixed range cannot collide with anything.
  private_cidr = "10.42.0.0/16"
  subnet_cidr  = cidrsubnet(local.private_cidr, 8, 1) # 10.42.1.0/24
  # Node i gets 10.42.1.(10+i); Hetzner keeps the subnet's first address for its gateway.
  private_ips = [for i in range(var.nodes) : cidrhost(local.subnet_cidr, 10 + i)]

  network_zone = {
    fsn1 = "eu-central"
    nbg1 = "eu-central"
    hel1 = "eu-central"
    ash  = "us-east"
    hil  = "us-west"
    sin  = "ap-southeast"
  }[var.region]

  ssh_sources = compact([var.control_plane_cidr, var.admin_cidr])
  world       = ["0.0.0.0/0", "::/0"]

  # Swarm managers (control_plane/topology.py): nodes 0-2 from 3 nodes on, else node 0 alone.
  managers = var.nodes >= 3 ? 3 : 1
}

# --- private network --------------------------------------------------------

resource "hcloud_network" "this" {
  name     = "${var.name}-net"
  ip_range = local.private_cidr
  labels   = { "sentinel-cluster" = var.name }
}

resource "hcloud_network_subnet" "nodes" {
  network_id   = hcloud_network.this.id
  type         = "cloud"
  network_zone = local.network_zone
  ip_range     = local.subnet_cidr
}

# --- firewall ---------------------------------------------------------------
# Hetzner Cloud firewalls filter the public interface only; traffic on the private
# network is not filtered. So the swarm ports (2377/tcp, 7946/tcp+udp, 4789/udp) and
# the registry (5000/tcp) need no rule: without one they are closed on the public
# interface and reachable only through the private network. The Docker API ports
# 2375/2376 get no rule either.

resource "hcloud_firewall" "nodes" {
  name   = "${var.name}-nodes"
  labels = { "sentinel-cluster" = var.name }

  rule {
    description = "HTTP (edge)"
    direction   = "in"
    protocol    = "tcp"
    port        = "80"
    source_ips  = local.world
  }

  rule {
    description = "HTTPS (edge)"
    direction   = "in"
    protocol    = "tcp"
    port        = "443"
    source_ips  = local.world
  }

  rule {
    description = "ssh from the control plane and the admin"
    direction   = "in"
    protocol    = "tcp"
    port        = "22"
    source_ips  = local.ssh_sources
  }
}

# --- servers ----------------------------------------------------------------

# Hetzner refuses a second key with the same fingerprint in one project: each cluster
# needs its own key pair (see docs/providers.md).
resource "hcloud_ssh_key" "this" {
  name       = "${var.name}-sentinel"
  public_key = trimspace(var.ssh_public_key)
  labels     = { "sentinel-cluster" = var.name }
}

resource "hcloud_server" "node" {
  count = var.nodes

  name         = "${var.name}-node-${count.index}"
  image        = nonsensitive(lookup(var.extra, "image", "debian-13")) # `extra` is sensitive for its S3 keys only
  server_type  = var.size
  location     = var.region
  ssh_keys     = [hcloud_ssh_key.this.id]
  firewall_ids = [hcloud_firewall.nodes.id]

  labels = {
    "sentinel-cluster" = var.name
    "sentinel-role"    = count.index < local.managers ? "manager" : "worker"
  }

  public_net {
    ipv4_enabled = true
    ipv6_enabled = true
  }

  network {
    network_id = hcloud_network.this.id
    ip         = local.private_ips[count.index]
    alias_ips  = []
  }

  # A newer image must not replace running nodes; rebuilds are explicit.
  lifecycle {
    ignore_changes = [image]
  }

  # The server can only join the network once the subnet exists.
  depends_on = [hcloud_network_subnet.nodes]
}
