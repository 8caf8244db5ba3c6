# Inputs of the webfleet AMI build. `npm run ami` sets environment, region, architecture
# and git_commit from config/<env>.yaml and git, health_path from modules/names.ts, and
# ssh_interface, subnet_id and iam_instance_profile from its options; the rest have defaults
# that suit every environment and are overridden only by hand (`packer build -var name=value .`).

variable "environment" {
  type        = string
  description = "The webfleet environment the image is built for (config/<env>.yaml); tags the AMI."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.environment))
    error_message = "The environment must be 1-20 lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "The region the build instance runs in; the AMI is registered there and the CodeDeploy agent comes from its aws-codedeploy-<region> bucket."
}

variable "ami_regions" {
  type        = list(string)
  description = "More regions to copy the finished AMI to (the manifest then lists region:ami pairs)."
  default     = []
}

variable "architecture" {
  type        = string
  description = "CPU architecture of the image: x86_64 or arm64 (Graviton). Must match the environment's instance type."
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "instance_type" {
  type        = string
  description = "Instance type of the temporary build instance; empty picks t3.small (x86_64) or t4g.small (arm64)."
  default     = ""
}

variable "kernel_version" {
  type        = string
  description = "Kernel line of the Amazon Linux 2023 base image (al2023-ami-2023.*-kernel-<version>-<arch>)."
  default     = "6.1"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+$", var.kernel_version))
    error_message = "The kernel_version must look like 6.1 or 6.12."
  }
}

variable "php_version" {
  type        = string
  description = "PHP 8.x line installed from the Amazon Linux 2023 repositories (php<version>, php<version>-mbstring, ...)."
  default     = "8.3"

  validation {
    condition     = can(regex("^8\\.[0-9]$", var.php_version))
    error_message = "The php_version must be a PHP 8 line such as 8.3."
  }
}

variable "health_path" {
  type        = string
  description = "URL path of the health endpoint the target groups probe (HEALTH_CHECK.path in modules/names.ts, which npm run ami passes): served by PHP-FPM outside the web root, checked by verify-image.sh."
}

variable "git_commit" {
  type        = string
  description = "Commit of the webfleet repository the image was built from; tags the AMI."
  default     = "unknown"
}

variable "deprecate_after_days" {
  type        = number
  description = "Days after the build at which EC2 marks the AMI deprecated (it still launches; it is hidden from listings)."
  default     = 90

  validation {
    condition     = var.deprecate_after_days >= 1
    error_message = "The deprecate_after_days must be at least 1."
  }
}

variable "volume_size_gb" {
  type        = number
  description = "Size of the encrypted gp3 root volume, in GiB."
  default     = 8
}

variable "kms_key_id" {
  type        = string
  description = "KMS key for the root volume and the AMI's snapshot; empty uses the account's aws/ebs key."
  default     = ""
}

variable "ssh_interface" {
  type        = string
  description = "How Packer reaches the build instance: public_ip (SSH from this machine's IP only) or session_manager (SSH tunnelled through SSM Session Manager: no inbound rule at all)."
  default     = "public_ip"

  validation {
    condition     = contains(["public_ip", "session_manager"], var.ssh_interface)
    error_message = "The ssh_interface must be public_ip or session_manager."
  }
}

variable "iam_instance_profile" {
  type        = string
  description = "Instance profile (its name) of the build instance; with session_manager it needs AmazonSSMManagedInstanceCore. Empty with session_manager: Packer creates a temporary one allowing only what the SSM agent needs, and deletes it after the build."
  default     = ""
}

variable "subnet_id" {
  type        = string
  description = "Subnet of the build instance. Empty: a subnet of the region's default VPC, with a public address. Given: the subnet decides about a public address, except over public_ip SSH, which always gets one; with session_manager a private subnet that reaches SSM (NAT or VPC endpoints) works."
  default     = ""
}

variable "manifest_path" {
  type        = string
  description = "Where the manifest post-processor appends this run's artifact (the AMI ids); relative to the working directory."
  default     = "manifest.json"
}

variable "source_ami" {
  type        = string
  description = "The exact Amazon Linux 2023 AMI to start from (npm run nightly passes the one its build key was computed from); empty picks the newest matching al2023-ami-2023.*-kernel-<kernel_version>-<arch>."
  default     = ""

  validation {
    condition     = var.source_ami == "" || can(regex("^ami-[0-9a-f]{8}([0-9a-f]{9})?$", var.source_ami))
    error_message = "The source_ami variable must be empty or an AMI id such as ami-0123456789abcdef0."
  }
}

variable "build_key" {
  type        = string
  description = "What the image was built from, as one hash (npm run nightly computes it before Packer starts, and skips the build when the newest image has it); tags the AMI as BuildKey."
  default     = ""
}

variable "source_release" {
  type        = string
  description = "The Amazon Linux 2023 release of the source AMI (2023.6.20241212.0); tags the AMI as Al2023Release."
  default     = ""
}

variable "package_manifest_path" {
  type        = string
  description = "Where the build's package list (rpm name, version-release, one a line, sorted) is downloaded to, relative to packer/; npm run nightly keeps it with the image."
  default     = "packages.txt"
}
