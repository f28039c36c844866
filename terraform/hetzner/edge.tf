# --- the edge's load balancer ---------------------------------------------------
# Traefik runs on every swarm manager and publishes 80 and 443 there. One load balancer in
# front of the managers gives DNS one address (edge_addresses) that survives losing a manager.
# TCP pass-through only: Traefik terminates TLS and gets its certificates by ACME itself, so
# the load balancer holds no certificate and never sees inside the connection.

locals {
  # listen port = target port; the keys name the services.
  edge_ports = { http = 80, https = 443 }
  # Fixed, below the nodes' 10.42.1.10 and up: an address Hetzner chose could be the one a
  # node added later by `cluster scale` needs.
  edge_private_ip = cidrhost(local.subnet_cidr, 5) # 10.42.1.5
}

resource "hcloud_load_balancer" "edge" {
  name               = "${var.name}-edge"
  load_balancer_type = "lb11" # the smallest type
  location           = var.region
  labels             = { "sentinel-cluster" = var.name }
}

# The load balancer reaches the managers over the private network, which the firewall does
# not filter; 80/443 stay open on the public interface as before.
resource "hcloud_load_balancer_network" "edge" {
  load_balancer_id = hcloud_load_balancer.edge.id
  subnet_id        = hcloud_network_subnet.nodes.id # waits for the subnet (network_id would not)
  ip               = local.edge_private_ip
}

resource "hcloud_load_balancer_target" "managers" {
  count = local.managers

  type             = "server"
  load_balancer_id = hcloud_load_balancer.edge.id
  server_id        = hcloud_server.node[count.index].id
  use_private_ip   = true

  # A private-IP target needs the load balancer on the network first.
  depends_on = [hcloud_load_balancer_network.edge]
}

resource "hcloud_load_balancer_service" "edge" {
  for_each = local.edge_ports

  load_balancer_id = hcloud_load_balancer.edge.id
  protocol         = "tcp"
  listen_port      = each.value
  destination_port = each.value
  # Off: Traefik's entry points are not configured to read the PROXY header.
  proxyprotocol = false

  # A plain TCP connect to Traefik's port 80 (its ping, 8082, is not meant to be reached from
  # outside the node): a manager whose Traefik is down leaves the pool for both ports.
  health_check {
    protocol = "tcp"
    port     = 80
    interval = 10
    timeout  = 5
    retries  = 3
  }
}
