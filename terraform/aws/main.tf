locals {
  # The VPC is private to this cluster, so a fixed range cannot collide with anything.
  private_cidr = "10.42.0.0/16"
  subnet_cidr  = cidrsubnet(local.private_cidr, 8, 1) # 10.42.1.0/24

  # ssh sources: the control plane, plus the admin when one is given. IPv6 CIDRs go to
  # ipv6_cidr_blocks (the nodes themselves have no IPv6 address).
  ssh_sources = compact([var.control_plane_cidr, var.admin_cidr])
  ssh_ipv4    = [for c in local.ssh_sources : c if !strcontains(c, ":")]
  ssh_ipv6    = [for c in local.ssh_sources : c if strcontains(c, ":")]

  # Swarm managers (control_plane/topology.py): nodes 0-2 from 3 nodes on, else node 0 alone.
  managers = var.nodes >= 3 ? 3 : 1
}

# Debian 13 (trixie: Docker Engine 26, which knows healthcheck.start_interval), published by
# the Debian cloud team's AWS account.
data "aws_ami" "debian" {
  most_recent = true
  owners      = ["136693071363"]

  filter {
    name   = "name"
    values = ["debian-13-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }

  filter {
    name   = "virtualization-type"
    values = ["hvm"]
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

# --- private network --------------------------------------------------------

resource "aws_vpc" "this" {
  cidr_block           = local.private_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = {
    Name = "${var.name}-vpc"
  }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id

  tags = {
    Name = "${var.name}-igw"
  }
}

resource "aws_subnet" "nodes" {
  vpc_id                  = aws_vpc.this.id
  cidr_block              = local.subnet_cidr
  availability_zone       = data.aws_availability_zones.available.names[0]
  map_public_ip_on_launch = true

  tags = {
    Name = "${var.name}-nodes"
  }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }

  tags = {
    Name = "${var.name}-public"
  }
}

resource "aws_route_table_association" "nodes" {
  subnet_id      = aws_subnet.nodes.id
  route_table_id = aws_route_table.public.id
}

# --- firewall ---------------------------------------------------------------
# All rules are inline (never mixed with aws_security_group_rule resources, which would
# fight over the same group). The Docker API ports 2375/2376 are deliberately absent.

resource "aws_security_group" "nodes" {
  name        = "${var.name}-nodes"
  description = "Sentinel cluster ${var.name}: web from anywhere, ssh from the control plane/admin, swarm inside the VPC"
  vpc_id      = aws_vpc.this.id

  ingress {
    description      = "HTTP (edge)"
    protocol         = "tcp"
    from_port        = 80
    to_port          = 80
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }

  ingress {
    description      = "HTTPS (edge)"
    protocol         = "tcp"
    from_port        = 443
    to_port          = 443
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }

  ingress {
    description      = "ssh from the control plane and the admin"
    protocol         = "tcp"
    from_port        = 22
    to_port          = 22
    cidr_blocks      = local.ssh_ipv4
    ipv6_cidr_blocks = local.ssh_ipv6
  }

  ingress {
    description = "swarm cluster management"
    protocol    = "tcp"
    from_port   = 2377
    to_port     = 2377
    cidr_blocks = [local.private_cidr]
  }

  ingress {
    description = "swarm node gossip (tcp)"
    protocol    = "tcp"
    from_port   = 7946
    to_port     = 7946
    cidr_blocks = [local.private_cidr]
  }

  ingress {
    description = "swarm node gossip (udp)"
    protocol    = "udp"
    from_port   = 7946
    to_port     = 7946
    cidr_blocks = [local.private_cidr]
  }

  ingress {
    description = "swarm overlay network (VXLAN)"
    protocol    = "udp"
    from_port   = 4789
    to_port     = 4789
    cidr_blocks = [local.private_cidr]
  }

  ingress {
    description = "encrypted overlay networks (IPsec ESP)"
    protocol    = "50"
    from_port   = 0
    to_port     = 0
    cidr_blocks = [local.private_cidr]
  }

  ingress {
    description = "image registry"
    protocol    = "tcp"
    from_port   = 5000
    to_port     = 5000
    cidr_blocks = [local.private_cidr]
  }

  ingress {
    description = "ping inside the VPC"
    protocol    = "icmp"
    from_port   = -1
    to_port     = -1
    cidr_blocks = [local.private_cidr]
  }

  egress {
    description      = "all outbound (packages, images, ACME)"
    protocol         = "-1"
    from_port        = 0
    to_port          = 0
    cidr_blocks      = ["0.0.0.0/0"]
    ipv6_cidr_blocks = ["::/0"]
  }

  tags = {
    Name = "${var.name}-nodes"
  }
}

# --- servers ----------------------------------------------------------------

resource "aws_key_pair" "this" {
  key_name   = "${var.name}-sentinel"
  public_key = trimspace(var.ssh_public_key)
}

resource "aws_instance" "node" {
  count = var.nodes

  ami                    = lookup(var.extra, "image", data.aws_ami.debian.id)
  instance_type          = var.size
  subnet_id              = aws_subnet.nodes.id
  vpc_security_group_ids = [aws_security_group.nodes.id]
  key_name               = aws_key_pair.this.key_name
  # The role that may use the backup bucket (backups.tf): pgBackRest takes its temporary
  # credentials from the instance metadata (repo1-s3-key-type=auto).
  iam_instance_profile = aws_iam_instance_profile.nodes.name

  metadata_options {
    http_tokens = "required" # IMDSv2 only
    # pgBackRest runs in containers, one network hop behind the host: with the default
    # limit of 1 the IMDSv2 token never reaches them. See docs/providers.md for what this
    # means for other containers on the node.
    http_put_response_hop_limit = 2
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = 20 # the AMI's 8 GB is too small for Docker images
    encrypted   = true
  }

  tags = {
    Name            = "${var.name}-node-${count.index}"
    "sentinel:role" = count.index < local.managers ? "manager" : "worker"
  }

  # A newer Debian AMI must not replace running nodes; rebuilds are explicit.
  lifecycle {
    ignore_changes = [ami]
  }

  depends_on = [aws_route_table_association.nodes]
}
