// Shared lighting for the vrgmi shaders (included with #pragma include).
// All colours are LINEAR RGB; the framebuffer (or encode_srgb) turns them into sRGB.

// One soft key light (direction TOWARD the light, world space) and a hemisphere
// ambient: sky colour from above (+Z), floor bounce from below.
uniform vec3 key_light_dir;
uniform vec3 key_light_color;
uniform vec3 ambient_sky;
uniform vec3 ambient_ground;

// 1: the framebuffer is not sRGB-capable, encode here; 0: the framebuffer encodes.
uniform float encode_srgb;

vec3 hemisphere_ambient(vec3 n) {
    return mix(ambient_ground, ambient_sky, 0.5 + 0.5 * n.z);
}

// Wrapped Lambert: wrap = 0 is Lambert, wrap = 1 lights the whole sphere (half-Lambert-like).
float wrap_diffuse(float n_dot_l, float wrap) {
    return max((n_dot_l + wrap) / (1.0 + wrap), 0.0);
}

vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    vec3 lo = c * 12.92;
    vec3 hi = 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055;
    return mix(lo, hi, step(vec3(0.0031308), c));
}

vec4 output_color(vec3 linear_rgb, float alpha) {
    vec3 rgb = encode_srgb > 0.5 ? linear_to_srgb(linear_rgb) : linear_rgb;
    return vec4(rgb, alpha);
}
