#version 330
// Clinic room shading: hemisphere ambient + one soft key light; emissive surfaces
// (the daylight window) skip lighting.

#pragma include "lighting.glsl"

uniform vec4 p3d_ColorScale;
uniform float emission;          // 0: lit surface; 1: self-lit (window panel)

in vec3 v_world_normal;
in vec4 v_color;

out vec4 o_color;

void main() {
    vec3 n = normalize(v_world_normal);
    float n_dot_l = dot(n, normalize(key_light_dir));
    vec3 base = v_color.rgb * p3d_ColorScale.rgb;
    vec3 lit = base * (hemisphere_ambient(n) + key_light_color * wrap_diffuse(n_dot_l, 0.25));
    o_color = output_color(mix(lit, base, emission), v_color.a * p3d_ColorScale.a);
}
