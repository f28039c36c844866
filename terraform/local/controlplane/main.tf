# Local provider: the control plane's server is a Debian container running systemd and sshd, on
# the cluster's network at a fixed address. The host's Docker socket is mounted: for the local
# provider this host's engine plays the cloud API, so the control plane's own terraform/local
# run creates the node containers beside it and reaches them over the network by address.
# Created by terraform_data + local-exec, which needs no provider plugin (works offline).

terraform {
  required_version = ">= 1.4"
}

locals {
  subnet    = lookup(var.extra, "subnet", "172.29.0.0/24")
  image     = lookup(var.extra, "image", "sentinel/controlplane-node:latest")
  api_port  = lookup(var.extra, "api_port", "8443")
  socket    = lookup(var.extra, "docker_socket", "/var/run/docker.sock")
  network   = "sentinel-${var.name}"
  container = "${var.name}-control-plane"
  address   = cidrhost(local.subnet, 5)
}

# Same network as terraform/local's (created by whichever runs first; each removes it on
# destroy only when nothing is attached any more).
resource "terraform_data" "network" {
  input = { name = local.network, subnet = local.subnet, cluster = var.name }

  provisioner "local-exec" {
    command = "docker network inspect ${self.input.name} >/dev/null 2>&1 || docker network create --subnet ${self.input.subnet} --label sentinel.cluster=${self.input.cluster} ${self.input.name} >/dev/null"
  }

  provisioner "local-exec" {
    when    = destroy
    command = "docker network rm ${self.input.name} >/dev/null 2>&1 || true"
  }
}

resource "terraform_data" "server" {
  depends_on = [terraform_data.network]

  input = {
    name    = local.container
    address = local.address
    image   = local.image
    port    = local.api_port
  }

  # systemd as PID 1: tmpfs on /run and /run/lock, the host's cgroup tree (as the nodes get it).
  # --privileged is not grantable here (CAP_SYS_RESOURCE), so the capabilities are listed.
  # The API port is published on 127.0.0.1 only: the CLI on this host is its only client.
  # A leftover container of an interrupted run is replaced, so re-running converges.
  provisioner "local-exec" {
    command     = <<-CMD
      set -e
      docker rm -f ${self.input.name} >/dev/null 2>&1 || true
      docker run -d --name ${self.input.name} --hostname ${self.input.name} \
        --network ${local.network} --ip ${self.input.address} --restart unless-stopped \
        --cap-add ALL --cap-drop SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns host \
        --tmpfs /run --tmpfs /run/lock \
        -v ${local.socket}:/var/run/docker.sock \
        -p 127.0.0.1:${self.input.port}:443 \
        --label sentinel.cluster=${var.name} --label sentinel.role=control-plane \
        ${self.input.image} >/dev/null
      for i in $(seq 1 100); do
        docker exec ${self.input.name} test -d /root && break
        sleep 0.2
      done
      docker exec -i ${self.input.name} sh -c 'install -d -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys' <<KEY
      $SSH_PUBLIC_KEY
      KEY
    CMD
    environment = { SSH_PUBLIC_KEY = var.ssh_public_key }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "docker rm -f -v ${self.input.name} >/dev/null 2>&1; true"
  }
}
