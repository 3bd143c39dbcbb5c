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

/**
 * The image's id once what Glance holds is the file the plan hashed: a file changed between the
 * preview and the upload has another checksum (md5, Glance's `checksum`), and no server may boot
 * from it. Glance sets the checksum of every image it holds data for; only a mocked one has none.
 */
export function verifiedImageId(name: string, src: ImageSource, id: string, checksum: string | undefined): string {
  if (src.kind === "file" && checksum && checksum !== src.md5)
    throw new pulumi.RunError(
      `image ${name}: Glance holds data with checksum (md5) ${JSON.stringify(checksum)}, but ${src.path} had ${src.md5} when it was planned (sha256 ${src.sha256}): ` +
        "the file changed between the preview and the upload, so no server is created from this image. Run `pulumi preview` and `pulumi up` again: " +
        "the image is replaced with the file as it is now",
    );
  return id;
}

export class RtImage extends pulumi.ComponentResource {
  readonly image: openstack.images.Image;
  /** The image's id, once Glance's checksum is the planned file's (a URL's image: at once). */
  readonly imageId: pulumi.Output<string>;
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
    this.imageId = pulumi
      .all([this.image.id, this.image.checksum])
      .apply(([id, checksum]) => verifiedImageId(args.name, src, id, checksum));
    this.output = pulumi
      .all([this.imageId, this.image.name])
      .apply(([id, imageName]): ImageOutput => ({ id, name: imageName, sha256 }));
    this.registerOutputs({ output: this.output });
  }
}
