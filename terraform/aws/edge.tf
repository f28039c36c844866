# --- the edge's load balancer ---------------------------------------------------
# Traefik runs on every swarm manager and publishes 80 and 443 there. One network load
# balancer in front of the managers gives DNS one address (edge_addresses) that survives
# losing a manager. TCP pass-through only: Traefik terminates TLS and gets its certificates
# by ACME itself, so the load balancer holds no certificate and never sees inside the
# connection.
#
# Instance targets keep the client's address, so the nodes' security group must admit 80/443
# from anywhere (it does); the health checks come from the load balancer's own address in the
# subnet, which that rule admits as well.

locals {
  # listen port = target port; the keys name the target groups.
  edge_ports = { http = 80, https = 443 }
  # AWS caps load balancer and target group names at 32 characters: past that Terraform
  # generates one (tf-...), and the Name tag still says whose it is.
  edge_name = "${var.name}-edge"
  # One attachment per (port, manager).
  edge_targets = {
    for pair in setproduct(keys(local.edge_ports), range(local.managers)) :
    "${pair[0]}-${pair[1]}" => { listener = pair[0], node = pair[1] }
  }
}

# A static IPv4 for the load balancer, so edge_addresses is an address an A record can hold
# (a zone apex cannot be a CNAME to the load balancer's DNS name).
resource "aws_eip" "edge" {
  domain = "vpc"

  tags = {
    Name = local.edge_name
  }

  depends_on = [aws_internet_gateway.this]
}

resource "aws_lb" "edge" {
  name               = length(local.edge_name) <= 32 ? local.edge_name : null
  load_balancer_type = "network"
  internal           = false

  # The cluster's one public subnet (one zone, like the nodes), with the static address.
  subnet_mapping {
    subnet_id     = aws_subnet.nodes.id
    allocation_id = aws_eip.edge.id
  }

  tags = {
    Name = local.edge_name
  }

  depends_on = [aws_route_table_association.nodes]
}

resource "aws_lb_target_group" "edge" {
  for_each = local.edge_ports

  name        = length("${local.edge_name}-${each.value}") <= 32 ? "${local.edge_name}-${each.value}" : null
  port        = each.value
  protocol    = "TCP"
  target_type = "instance"
  vpc_id      = aws_vpc.this.id

  # A plain TCP connect to Traefik's port 80 (its ping, 8082, is not meant to be reached from
  # outside the node): a manager whose Traefik is down leaves the pool for both ports.
  health_check {
    protocol            = "TCP"
    port                = "80"
    interval            = 10
    healthy_threshold   = 3
    unhealthy_threshold = 3
  }

  tags = {
    Name = "${local.edge_name}-${each.value}"
  }
}

resource "aws_lb_target_group_attachment" "managers" {
  for_each = local.edge_targets

  target_group_arn = aws_lb_target_group.edge[each.value.listener].arn
  target_id        = aws_instance.node[each.value.node].id
  port             = local.edge_ports[each.value.listener]
}

resource "aws_lb_listener" "edge" {
  for_each = local.edge_ports

  load_balancer_arn = aws_lb.edge.arn
  port              = each.value
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.edge[each.key].arn
  }

  tags = {
    Name = "${local.edge_name}-${each.value}"
  }
}
