# --- the edge's load balancer ---------------------------------------------------
# Traefik runs on every swarm manager and publishes 80 and 443 there. One load balancer in
# front of the managers gives DNS one address (edge_addresses) that survives losing a manager.
# TCP pass-through only: Traefik terminates TLS and gets its certificates by ACME itself, so
# the load balancer holds no certificate and never sees inside the connection.

resource "digitalocean_loadbalancer" "edge" {
  name     = "${var.name}-edge"
  region   = var.region
  vpc_uuid = digitalocean_vpc.this.id
  # The smallest size.
  size_unit = 1

  forwarding_rule {
    entry_protocol  = "tcp"
    entry_port      = 80
    target_protocol = "tcp"
    target_port     = 80
  }

  forwarding_rule {
    entry_protocol  = "tcp"
    entry_port      = 443
    target_protocol = "tcp"
    target_port     = 443
  }

  # A plain TCP connect to Traefik's port 80 (its ping, 8082, is not meant to be reached from
  # outside the node): a manager whose Traefik is down leaves the pool for both ports.
  healthcheck {
    protocol                 = "tcp"
    port                     = 80
    check_interval_seconds   = 10
    response_timeout_seconds = 5
    unhealthy_threshold      = 3
    healthy_threshold        = 3
  }

  # Off: Traefik's entry points are not configured to read the PROXY header.
  enable_proxy_protocol = false

  droplet_ids = slice(digitalocean_droplet.node[*].id, 0, local.managers)
}
