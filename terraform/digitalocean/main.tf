locals {
  ssh_sources = compact([var.control_plane_cidr, var.admin_cidr])
  world       = ["0.0.0.0/0", "::/0"]

  # Swarm managers (control_plane/topology.py): nodes 0-2 from 3 nodes on, else node 0 alone.
  managers = var.nodes >= 3 ? 3 : 1
}

# --- private network --------------------------------------------------------
# No ip_range: DigitalOcean picks a free one, so two clusters in one region never
# overlap. The firewall below refers to whatever range was chosen.

resource "digitalocean_vpc" "this" {
  name        = "${var.name}-vpc"
  region      = var.region
  description = "Sentinel cluster ${var.name}"
}

# --- servers ----------------------------------------------------------------

# DigitalOcean refuses a second key with the same fingerprint in one account: each
# cluster needs its own key pair (see docs/providers.md).
resource "digitalocean_ssh_key" "this" {
  name       = "${var.name}-sentinel"
  public_key = trimspace(var.ssh_public_key)
}

resource "digitalocean_droplet" "node" {
  count = var.nodes

  name     = "${var.name}-node-${count.index}"
  image    = lookup(var.extra, "image", "debian-13-x64")
  size     = var.size
  region   = var.region
  vpc_uuid = digitalocean_vpc.this.id
  ssh_keys = [digitalocean_ssh_key.this.fingerprint]
  ipv6     = true
  tags     = ["sentinel", "sentinel-${var.name}", count.index < local.managers ? "sentinel-manager" : "sentinel-worker"]

  # A newer image must not replace running nodes; rebuilds are explicit.
  lifecycle {
    ignore_changes = [image]
  }
}

# --- firewall ---------------------------------------------------------------
# DigitalOcean cloud firewalls filter the VPC interface too, so the swarm ports are
# opened to the VPC range only. Only tcp/udp/icmp can be allowed: IPsec ESP (encrypted
# overlay networks) cannot. The Docker API ports 2375/2376 are deliberately absent.

resource "digitalocean_firewall" "nodes" {
  name        = "${var.name}-nodes"
  droplet_ids = digitalocean_droplet.node[*].id

  # The edge's load balancer (edge.tf) reaches the managers from its own VPC address, which the
  # world covers; it is named too, so narrowing the world later cannot cut it off.
  inbound_rule {
    protocol                  = "tcp"
    port_range                = "80"
    source_addresses          = local.world
    source_load_balancer_uids = [digitalocean_loadbalancer.edge.id]
  }

  inbound_rule {
    protocol                  = "tcp"
    port_range                = "443"
    source_addresses          = local.world
    source_load_balancer_uids = [digitalocean_loadbalancer.edge.id]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "22"
    source_addresses = local.ssh_sources
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "2377"
    source_addresses = [digitalocean_vpc.this.ip_range]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "7946"
    source_addresses = [digitalocean_vpc.this.ip_range]
  }

  inbound_rule {
    protocol         = "udp"
    port_range       = "7946"
    source_addresses = [digitalocean_vpc.this.ip_range]
  }

  inbound_rule {
    protocol         = "udp"
    port_range       = "4789"
    source_addresses = [digitalocean_vpc.this.ip_range]
  }

  inbound_rule {
    protocol         = "tcp"
    port_range       = "5000"
    source_addresses = [digitalocean_vpc.this.ip_range]
  }

  inbound_rule {
    protocol         = "icmp"
    source_addresses = [digitalocean_vpc.this.ip_range]
  }

  outbound_rule {
    protocol              = "tcp"
    port_range            = "1-65535"
    destination_addresses = local.world
  }

  outbound_rule {
    protocol              = "udp"
    port_range            = "1-65535"
    destination_addresses = local.world
  }

  outbound_rule {
    protocol              = "icmp"
    destination_addresses = local.world
  }
}
