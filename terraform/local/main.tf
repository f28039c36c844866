# Local provider: each node is a Docker-in-Docker container with sshd on a private Docker
# network with a fixed subnet, so addresses come from cidrhost() and Terraform can output them.
# Created by terraform_data + local-exec, which needs no provider plugin (works offline).

terraform {
  required_version = ">= 1.4"
}

locals {
  subnet     = lookup(var.extra, "subnet", "172.29.0.0/24")
  image      = lookup(var.extra, "node_image", "sentinel/node:latest")
  http_port  = lookup(var.extra, "http_port", "80")
  https_port = lookup(var.extra, "https_port", "443")
  network    = "sentinel-${var.name}"
  addresses  = [for i in range(var.nodes) : cidrhost(local.subnet, 10 + i)]
  # The backup node: a swarm worker that holds only the apps' backup repositories.
  backup_address = cidrhost(local.subnet, 9)
  backup_name    = "${var.name}-backup"
  # The edge's floating address (VRRP, keepalived on the managers): from 3 nodes on, where there
  # are 3 managers for it to move between.
  floating_address = var.nodes >= 3 ? cidrhost(local.subnet, 8) : ""
  # The repositories themselves live in a volume of this machine's engine, not in the node, so
  # they outlive the node and every `cluster scale`; only `sentinel destroy --delete-data`
  # removes them.
  backup_volume = "${var.name}-backups"
  # The most the backup node's copy filesystem may grow to (a sparse file: it takes only what
  # the copy sources and copies hold).
  fast_size = lookup(var.extra, "fast_size", "64G")
}

resource "terraform_data" "network" {
  input = { name = local.network, subnet = local.subnet }

  provisioner "local-exec" {
    command = "docker network inspect ${self.input.name} >/dev/null 2>&1 || docker network create --subnet ${self.input.subnet} --label sentinel.cluster=${var.name} ${self.input.name} >/dev/null"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "docker network rm ${self.input.name} >/dev/null 2>&1 || true"
  }
}

resource "terraform_data" "node" {
  count      = var.nodes
  depends_on = [terraform_data.network]

  input = {
    name    = "${var.name}-node-${count.index}"
    address = local.addresses[count.index]
    # Only the manager publishes the edge ports on this host.
    ports = count.index == 0 ? "-p ${local.http_port}:80 -p ${local.https_port}:443" : ""
  }

  # --privileged is not grantable here (CAP_SYS_RESOURCE), so the capabilities are listed.
  # A leftover container of an interrupted run is replaced, so re-running converges.
  provisioner "local-exec" {
    command     = <<-CMD
      docker rm -f ${self.input.name} >/dev/null 2>&1 || true
      docker run -d --name ${self.input.name} --hostname ${self.input.name} \
        --network ${local.network} --ip ${self.input.address} --restart unless-stopped \
        --cap-add ALL --cap-drop SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host \
        -v ${self.input.name}-docker:/var/lib/docker \
        --label sentinel.cluster=${var.name} ${self.input.ports} \
        -e SSH_PUBLIC_KEY="$SSH_PUBLIC_KEY" ${local.image} >/dev/null
    CMD
    environment = { SSH_PUBLIC_KEY = var.ssh_public_key }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "docker rm -f ${self.input.name} >/dev/null 2>&1; docker volume rm -f ${self.input.name}-docker >/dev/null 2>&1; true"
  }
}

resource "terraform_data" "backup_volume" {
  input = { name = local.backup_volume }

  provisioner "local-exec" {
    command = "docker volume create --label sentinel.cluster=${var.name} ${self.input.name} >/dev/null"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "docker volume rm -f ${self.input.name} >/dev/null 2>&1; true"
  }
}

resource "terraform_data" "backup_node" {
  depends_on = [terraform_data.network, terraform_data.backup_volume]

  input = {
    name    = local.backup_name
    address = local.backup_address
    volume  = local.backup_volume
  }

  # Copies in seconds (docs/data.md, "Copies"): the backup node keeps copy sources and copies
  # on an XFS filesystem in a sparse file of its own volume (-fast), which needs loop devices:
  # /dev/loop-control and the loop devices' cgroup rule, where this machine has them (else the
  # node uses a plain folder and copies are plain copies).
  provisioner "local-exec" {
    command     = <<-CMD
      docker rm -f ${self.input.name} >/dev/null 2>&1 || true
      set --
      if [ -e /dev/loop-control ]; then set -- --device /dev/loop-control --device-cgroup-rule 'b 7:* rmw'; fi
      docker run -d --name ${self.input.name} --hostname ${self.input.name} \
        --network ${local.network} --ip ${self.input.address} --restart unless-stopped \
        --cap-add ALL --cap-drop SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host \
        -v ${self.input.name}-docker:/var/lib/docker \
        -v ${self.input.volume}:/var/lib/sentinel/backups \
        -v ${self.input.name}-fast:/var/lib/sentinel/fast-disk \
        "$@" -e SENTINEL_FAST_SIZE=${local.fast_size} \
        --label sentinel.cluster=${var.name} \
        -e SSH_PUBLIC_KEY="$SSH_PUBLIC_KEY" ${local.image} >/dev/null
    CMD
    environment = { SSH_PUBLIC_KEY = var.ssh_public_key }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "docker rm -f ${self.input.name} >/dev/null 2>&1; docker volume rm -f ${self.input.name}-docker ${self.input.name}-fast >/dev/null 2>&1; true"
  }
}
