// Plain ESM config: next build and next dev load it as is, with no TypeScript step.

/** @type {import("next").NextConfig} */
const nextConfig = {
  // Self-contained server (server.js + traced node_modules) for a small runtime image.
  output: "standalone",
  poweredByHeader: false,
  // Type checking is `npm run lint` (tsc) and part of `next build`; ESLint is not a dependency.
  eslint: { ignoreDuringBuilds: true },
  // The UI has no images to optimise, so sharp/libvips can stay out of the standalone output.
  images: { unoptimized: true },
  outputFileTracingExcludes: {
    // TypeScript is a build tool only; the standalone server never loads it.
    "*": ["node_modules/sharp/**", "node_modules/@img/**", "node_modules/typescript/**"],
  },
};

export default nextConfig;
