#version 330
// Skin shading for the virtual limb, and the stump blend (see docs/rendering.md).

#pragma include "lighting.glsl"

uniform mat4 p3d_ViewMatrixInverse;
uniform vec4 p3d_ColorScale;

uniform vec3 skin_tone;          // linear RGB; with lighting = 0 it is drawn exactly
uniform float lighting;          // 1: lit; 0: flat tone (tests, calibration views)
uniform float wrap;              // diffuse wrap, 0.5 = half-Lambert-like softness
uniform vec3 scatter_color;      // subsurface-like warmth in the terminator (linear)
uniform float scatter_strength;
uniform vec3 rim_color;          // gentle rim light (linear)
uniform float rim_strength;

// Stump blend, along the rest-pose limb axis (metres from the limb root).
uniform float stump_distance;    // where the residual limb ends
uniform float stump_blend_width; // the band beyond it over which the phantom fades in
uniform float residual_alpha;    // the residual part (stands for the patient's own limb)
uniform float phantom_alpha;     // the phantom part beyond the band

in vec3 v_world_pos;
in vec3 v_world_normal;
in float v_limb_distance;

out vec4 o_color;

float stump_alpha(float d) {
    float t = stump_blend_width > 0.0
        ? smoothstep(0.0, 1.0, (d - stump_distance) / stump_blend_width)
        : step(stump_distance, d);
    return mix(residual_alpha, phantom_alpha, t);
}

void main() {
    vec3 n = normalize(v_world_normal);
    vec3 camera_pos = p3d_ViewMatrixInverse[3].xyz;
    vec3 v = normalize(camera_pos - v_world_pos);
    vec3 l = normalize(key_light_dir);
    float n_dot_l = dot(n, l);

    vec3 diffuse = key_light_color * wrap_diffuse(n_dot_l, wrap);
    // light that enters where the surface turns away and comes back out reddened: peaks
    // at the terminator, gone in the full light and (smoothly) deep on the far side
    float terminator = 1.0 - abs(n_dot_l);
    vec3 scatter = scatter_color * key_light_color * (scatter_strength * terminator
                 * terminator * smoothstep(-0.7, -0.1, n_dot_l));
    float rim = rim_strength * pow(1.0 - clamp(dot(n, v), 0.0, 1.0), 3.0);

    vec3 lit = skin_tone * (hemisphere_ambient(n) + diffuse + scatter) + rim_color * rim;
    vec3 rgb = mix(skin_tone, lit, lighting) * p3d_ColorScale.rgb;
    o_color = output_color(rgb, stump_alpha(v_limb_distance) * p3d_ColorScale.a);
}
