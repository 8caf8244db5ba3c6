# The webfleet web server image: Amazon Linux 2023 with Apache, PHP 8.x (mbstring, mysqlnd),
# a health endpoint outside the web root answered by PHP-FPM, and the CodeDeploy agent. The
# web root ships empty: CodeDeploy puts the application there. Build it with
# `npm run ami -- --env <env>`.

packer {
  required_version = ">= 1.10.0"

  # Pinned exactly: a floating constraint let `packer init` pick a new plugin between two builds
  # of the same commit, so the same inputs could bake a different image. 1.8.2 is the release
  # that __tests__/fixtures/reference/packer-amazon-ebs-schema.json was read from (its builder is the
  # schema commit's), and it has the fixes for Session Manager's config (1.7.1) and for a
  # just-created instance profile racing the launch (1.8.1). Move it on purpose, with the schema.
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "= 1.8.2"
    }
  }
}

locals {
  project    = "webfleet"
  build_time = timestamp()
  # 20250101-120000: AMI names allow only letters, digits and ()[] ./-'@_
  ami_timestamp = formatdate("YYYYMMDD-hhmmss", local.build_time)
  ami_name      = "${local.project}-${var.environment}-al2023-${var.architecture}-${local.ami_timestamp}"

  # The standard AL2023 image only: al2023-ami-minimal-* and al2023-ami-ecs-* do not match.
  source_ami_name = "al2023-ami-2023.*-kernel-${var.kernel_version}-${var.architecture}"

  build_instance_type = var.instance_type != "" ? var.instance_type : (var.architecture == "arm64" ? "t4g.small" : "t3.small")

  # The newest Ruby the CodeDeploy agent's installer accepts (its supported_ruby_versions);
  # AL2023 ships 3.2 and 3.4 side by side with no promise about which one `ruby` is.
  codedeploy_agent_ruby = "3.2"
}

source "amazon-ebs" "al2023" {
  region        = var.region
  ami_regions   = var.ami_regions
  instance_type = local.build_instance_type
  subnet_id     = var.subnet_id

  # The exact source AMI when one is given (npm run nightly: the one its build key names),
  # else the newest standard AL2023 image.
  source_ami = var.source_ami != "" ? var.source_ami : null
  dynamic "source_ami_filter" {
    for_each = var.source_ami == "" ? ["newest"] : []
    content {
      filters = {
        name                = local.source_ami_name
        architecture        = var.architecture
        virtualization-type = "hvm"
        root-device-type    = "ebs"
        state               = "available"
      }
      owners      = ["amazon"]
      most_recent = true
    }
  }

  ami_name        = local.ami_name
  ami_description = "webfleet ${var.environment} web server: Amazon Linux 2023, Apache, PHP ${var.php_version}, CodeDeploy agent (${var.architecture}, commit ${var.git_commit})"
  deprecate_at    = timeadd(local.build_time, "${var.deprecate_after_days * 24}h")

  # IMDSv2 only, for the build instance and for every instance launched from the AMI.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"

  # Encrypted root volume: the AMI's snapshot is encrypted with the same key.
  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.volume_size_gb
    volume_type           = "gp3"
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }

  # SSH as ec2-user, either over the instance's IP (the temporary security group admits
  # only this machine's public IP) or through Session Manager (no inbound rule at all).
  # With Session Manager, the SSM agent may need minutes to see a just-created instance
  # profile (IAM is eventually consistent; packer-plugin-amazon PR #503), so it waits and
  # allows longer.
  communicator                              = "ssh"
  ssh_username                              = "ec2-user"
  ssh_interface                             = var.ssh_interface
  ssh_timeout                               = var.ssh_interface == "session_manager" ? "30m" : "10m"
  pause_before_ssm                          = var.ssh_interface == "session_manager" ? "1m" : "0s"
  temporary_security_group_source_public_ip = var.ssh_interface == "public_ip"
  iam_instance_profile                      = var.iam_instance_profile

  # A public address whenever one is needed: SSH over public_ip, and any build without a
  # subnet, which the plugin puts in a default-VPC subnet (an internet gateway, no NAT, no
  # SSM endpoints: the SSM agent reaches SSM over the internet or never registers). In a
  # subnet given for Session Manager the subnet decides (null leaves it to
  # MapPublicIpOnLaunch): a private subnet reaches SSM through NAT or VPC endpoints.
  associate_public_ip_address = var.ssh_interface == "public_ip" || var.subnet_id == "" ? true : null

  dynamic "temporary_iam_instance_profile_policy_document" {
    for_each = var.ssh_interface == "session_manager" && var.iam_instance_profile == "" ? ["ssm"] : []
    content {
      Version = "2012-10-17"
      Statement {
        Effect = "Allow"
        Action = [
          "ssm:UpdateInstanceInformation",
          "ssmmessages:CreateControlChannel",
          "ssmmessages:CreateDataChannel",
          "ssmmessages:OpenControlChannel",
          "ssmmessages:OpenDataChannel",
        ]
        Resource = ["*"]
      }
    }
  }

  run_tags = {
    Name        = "packer-${local.ami_name}"
    Project     = local.project
    Environment = var.environment
    ManagedBy   = "packer"
  }
  run_volume_tags = {
    Project     = local.project
    Environment = var.environment
    ManagedBy   = "packer"
  }

  # The AMI's provenance. {{ .SourceAMI }} is filled in by the Amazon plugin at build time.
  tags = {
    Name          = local.ami_name
    Project       = local.project
    Environment   = var.environment
    ManagedBy     = "packer"
    SourceAMI     = "{{ .SourceAMI }}"
    SourceAMIName = "{{ .SourceAMIName }}"
    BuildTime     = local.build_time
    GitCommit     = var.git_commit
    Architecture  = var.architecture
    PhpVersion    = var.php_version
    BuildKey      = var.build_key
    Al2023Release = var.source_release
  }
  snapshot_tags = {
    Name        = local.ami_name
    Project     = local.project
    Environment = var.environment
    ManagedBy   = "packer"
    SourceAMI   = "{{ .SourceAMI }}"
    BuildTime   = local.build_time
    GitCommit   = var.git_commit
  }
}

build {
  name    = "webfleet"
  sources = ["source.amazon-ebs.al2023"]

  # Every script runs as root with `set -euo pipefail`; each is safe to run twice.
  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    environment_vars = [
      "WEBFLEET_REGION=${var.region}",
      "WEBFLEET_PHP_VERSION=${var.php_version}",
      "WEBFLEET_HEALTH_PATH=${var.health_path}",
      "WEBFLEET_AGENT_RUBY=${local.codedeploy_agent_ruby}",
    ]
    scripts = [
      "${path.root}/scripts/security-updates.sh",
      "${path.root}/scripts/install-web.sh",
      "${path.root}/scripts/install-codedeploy-agent.sh",
      "${path.root}/scripts/verify-image.sh",
      "${path.root}/scripts/package-manifest.sh",
    ]
  }

  # The package list, kept with the image by npm run nightly (which packages changed since the
  # last image).
  provisioner "file" {
    direction   = "download"
    source      = "/tmp/webfleet-packages.txt"
    destination = "${path.root}/${var.package_manifest_path}"
  }

  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo env {{ .Vars }} {{ .Path }}"
    scripts         = ["${path.root}/scripts/cleanup.sh"]
  }

  # Appends this run's artifact ("region:ami-...,region:ami-...") under packer_run_uuid;
  # scripts/ami reads the entry of last_run_uuid.
  post-processor "manifest" {
    output     = var.manifest_path
    strip_path = true
    custom_data = {
      ami_name        = local.ami_name
      source_ami      = "${build.SourceAMI}"
      source_ami_name = "${build.SourceAMIName}"
      environment     = var.environment
      architecture    = var.architecture
      git_commit      = var.git_commit
      build_time      = local.build_time
      build_key       = var.build_key
      source_release  = var.source_release
    }
  }
}
