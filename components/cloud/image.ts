/**
 * The guest image in Glance, from a local file or a URL (decided and hashed beforehand:
 * lib/desired/image-source.ts). A local file's sha256 goes into an image property, where the provider
 * sees it: a changed file at the same path is a diff, and a replacement, since Glance cannot
 * swap the data of an existing image.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { ImageSource } from "../../lib/desired/image-source";
import { SHA256_PROPERTY } from "../../lib/desired/image-source";
import type { ImageOutput } from "../../lib/render/outputs";

export interface RtImageArgs {
  name: string;
  source: ImageSource;
  diskFormat: string;
  containerFormat: string;
  properties: Record<string, string>;
  /**
   * deployment.protect: other stacks boot from this image, so a replaced image (a new file) or
   * a destroy leaves the old one in Glance instead of deleting it. (Pulumi's `protect` would
   * refuse the replacement itself: the engine replaces a resource only when its old or new
   * state is unprotected.)
   */
  protect?: boolean;
}

export class RtImage extends pulumi.ComponentResource {
  readonly image: openstack.images.Image;
  readonly output: pulumi.Output<ImageOutput>;

  constructor(name: string, args: RtImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:image:RtImage", name, {}, opts);
    const src = args.source;
    this.image = new openstack.images.Image(
      `${name}-image`,
      {
        name: args.name,
        diskFormat: args.diskFormat,
        containerFormat: args.containerFormat,
        ...(src.kind === "file" ? { localFilePath: src.path } : { imageSourceUrl: src.url }),
        properties: src.kind === "file" ? { ...args.properties, [SHA256_PROPERTY]: src.sha256 } : args.properties,
      },
      // Properties update in place, so a new checksum alone would leave the old data in Glance.
      {
        parent: this,
        replaceOnChanges: [`properties.${SHA256_PROPERTY}`],
        retainOnDelete: args.protect ?? false,
      },
    );
    const sha256 = src.kind === "file" ? src.sha256 : null;
    this.output = pulumi
      .all([this.image.id, this.image.name])
      .apply(([id, imageName]): ImageOutput => ({ id, name: imageName, sha256 }));
    this.registerOutputs({ output: this.output });
  }
}
