/* The page pieces of render.h used by `protoecg report`: pe_html_explanation_body,
 * pe_html_gallery_stats_table and pe_html_prototype_card. Checks that they produce
 * fragments (no page wrapper), honour the heading level and the id prefix, that the
 * full pages are made of exactly these pieces, and that bad arguments are refused.
 * Synthetic signals; no data needed. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "explain/render.h"

#define N 1000

static int count_str(const char *s, const char *sub) {
    int k = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) k++;
    return k;
}

static void make_signal(float *sig, double phase) {
    for (int l = 0; l < PE_NUM_LEADS; l++)
        for (int i = 0; i < N; i++)
            sig[l * N + i] = (float)(0.8 * sin(2 * M_PI * 1.2 * i / 100.0 + phase + l));
}

static pe_class_explanation make_expl(int c, int predicted, int n_top) {
    pe_class_explanation x;
    memset(&x, 0, sizeof x);
    x.class_idx = c;
    x.probability = predicted ? 0.9f : 0.1f;
    x.logit = predicted ? 2.197f : -2.197f;
    x.predicted = predicted;
    x.contrib_own = x.logit + 1.0f;
    x.contrib_other = -1.0f;
    x.n_top = n_top;
    for (int k = 0; k < n_top; k++) {
        pe_proto_evidence *t = &x.top[k];
        t->prototype = c * 3 + k;
        t->proto_class = c;
        t->similarity = 0.9f - 0.1f * (float)k;
        t->weight = 1.0f;
        t->contribution = t->similarity;
        t->source_ecg_id = 100 + k;
        t->source_labels[c] = 1;
        t->source_similarity = 0.95f;
    }
    return x;
}

int main(void) {
    static float sig[PE_NUM_LEADS * N], src[PE_NUM_LEADS * N];
    make_signal(sig, 0.0);
    make_signal(src, 1.0);
    float probs[PE_NUM_CLASSES];
    for (int c = 0; c < PE_NUM_CLASSES; c++) probs[c] = 0.05f * (float)c;
    const int AFIB = 5, SR = 4;
    pe_class_explanation ex[2] = {make_expl(AFIB, 1, 2), make_expl(SR, 0, 1)};
    const float *srcs[2 * PE_MAX_TOP] = {0};
    srcs[0] = src; /* AFIB's first prototype has its source ECG, the others none */
    pe_error e;

    /* the body: a fragment with level-3 headings and prefixed ids */
    pe_sb body = {0};
    CHECK(pe_html_explanation_body(&body, "rec", sig, N, 100.0, probs, ex, 2, srcs, 3, "ex1-", &e) == 0);
    const char *b = pe_sb_str(&body);
    CHECK(strstr(b, "<html") == NULL && strstr(b, "<body") == NULL && strstr(b, "<footer") == NULL &&
          strstr(b, "<!DOCTYPE") == NULL && strstr(b, "<h1") == NULL);
    CHECK(strstr(b, "<h2") == NULL);
    CHECK_CONTAINS(b, "<h3>The ECG</h3>");
    CHECK_CONTAINS(b, "<h3>Rhythm probabilities</h3>");
    CHECK_CONTAINS(b, "<section class=\"class-expl\" id=\"ex1-class-AFIB\">\n<h3><span class=\"code\">AFIB");
    CHECK_CONTAINS(b, "id=\"ex1-class-SR\"");
    CHECK(count_str(b, "id=\"class-") == 0);
    CHECK_MSG(count_str(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"ecg\"") == 2,
              "the record and one source ECG");
    CHECK(count_str(b, "Source ECG signal not available") == 2);
    CHECK_CONTAINS(b, "Predicted rhythm labels: <b>AFIB</b>");
    CHECK(count_str(b, "<section") == count_str(b, "</section>"));

    /* a second explanation on the same page keeps its ids apart */
    pe_sb two = {0};
    CHECK(pe_html_explanation_body(&two, "a", sig, N, 100.0, probs, ex, 1, NULL, 3, "ex1-", &e) == 0);
    CHECK(pe_html_explanation_body(&two, "b", sig, N, 100.0, probs, ex, 1, NULL, 3, "ex2-", &e) == 0);
    CHECK(count_str(pe_sb_str(&two), "id=\"ex1-class-AFIB\"") == 1);
    CHECK(count_str(pe_sb_str(&two), "id=\"ex2-class-AFIB\"") == 1);
    /* NULL prefix = none; the prefix is escaped */
    pe_sb np = {0};
    CHECK(pe_html_explanation_body(&np, "a", sig, N, 100.0, probs, ex, 1, NULL, 2, NULL, &e) == 0);
    CHECK_CONTAINS(pe_sb_str(&np), "id=\"class-AFIB\"");
    pe_sb esc = {0};
    CHECK(pe_html_explanation_body(&esc, "a", sig, N, 100.0, probs, ex, 1, NULL, 2, "\"x", &e) == 0);
    CHECK_CONTAINS(pe_sb_str(&esc), "id=\"&quot;xclass-AFIB\"");

    /* the explanation page is its header + the level-2 body without prefix + footer */
    pe_sb page = {0}, body2 = {0};
    CHECK(pe_html_explanation_page(&page, "rec", sig, N, 100.0, probs, ex, 2, srcs, "m", NULL, &e) == 0);
    CHECK(pe_html_explanation_body(&body2, "rec", sig, N, 100.0, probs, ex, 2, srcs, 2, "", &e) == 0);
    const char *p = pe_sb_str(&page), *at = strstr(p, pe_sb_str(&body2));
    CHECK_MSG(at != NULL, "the page does not contain the body");
    if (at) {
        CHECK(strstr(p, "</header>\n") + strlen("</header>\n") == at);
        CHECK(strncmp(at + body2.len, "<footer>", 8) == 0);
    }
    /* a prelude goes between the header and the body */
    pe_sb pre = {0};
    CHECK(pe_html_explanation_page(&pre, "rec", sig, N, 100.0, probs, ex, 2, srcs, "m",
                                   "<section>timeline</section>", &e) == 0);
    const char *q = pe_sb_str(&pre), *qb = strstr(q, pe_sb_str(&body2));
    const char *qh = strstr(q, "</header>\n<section>timeline</section>");
    CHECK(qb && qh && qh + 37 == qb);
    pe_sb_free(&pre);

    /* bad arguments */
    pe_sb bad = {0};
    CHECK(pe_html_explanation_body(&bad, "r", sig, N, 100.0, probs, ex, 1, NULL, 0, "", &e) != 0);
    CHECK_CONTAINS(e.msg, "heading level 0");
    CHECK(pe_html_explanation_body(&bad, "r", sig, N, 100.0, probs, ex, 1, NULL, 6, "", &e) != 0);
    pe_class_explanation wrong = make_expl(AFIB, 1, 1);
    wrong.class_idx = PE_NUM_CLASSES;
    CHECK(pe_html_explanation_body(&bad, "r", sig, N, 100.0, probs, &wrong, 1, NULL, 3, "", &e) != 0);
    CHECK_CONTAINS(e.msg, "class 16");
    wrong = make_expl(AFIB, 1, 1);
    wrong.n_top = PE_MAX_TOP + 1;
    CHECK(pe_html_explanation_body(&bad, "r", sig, N, 100.0, probs, &wrong, 1, NULL, 3, "", &e) != 0);
    CHECK(pe_html_explanation_body(&bad, "r", NULL, N, 100.0, probs, ex, 1, NULL, 3, "", &e) != 0);
    CHECK(bad.len == 0);

    /* gallery pieces: counts from the items, statistics or dashes */
    pe_gallery_item items[5];
    memset(items, 0, sizeof items);
    for (int i = 0; i < 5; i++) {
        items[i].prototype = i;
        items[i].proto_class = i < 3 ? SR : AFIB;
        items[i].source_ecg_id = i == 4 ? -1 : 200 + i;
        items[i].source_labels[items[i].proto_class] = 1;
        items[i].source_labels[0] = i == 1;
        items[i].similarity = 0.5f;
        items[i].source_sig = i == 0 ? src : NULL;
    }
    pe_gallery_stats st;
    for (int c = 0; c < PE_NUM_CLASSES; c++) {
        st.mean_within_cos[c] = c == SR ? 0.25 : NAN;
        st.mean_between_cos[c] = 0.125;
        st.n_single_label[c] = c == SR ? 2 : -1;
        st.n_duplicates[c] = 0;
    }
    pe_sb tab = {0};
    pe_html_gallery_stats_table(&tab, items, 5, &st, 3);
    const char *t = pe_sb_str(&tab);
    CHECK_CONTAINS(t, "<section><h3>Prototypes per class</h3>");
    CHECK_CONTAINS(t, "<tr><td><b>SR</b></td><td>sinus rhythm</td><td class=\"num\">3</td>"
                      "<td class=\"num\">0.250</td><td class=\"num\">0.125</td>"
                      "<td class=\"num\">2</td><td class=\"num\">0</td></tr>");
    CHECK_CONTAINS(t, "<tr><td><b>AFIB</b></td><td>atrial fibrillation</td><td class=\"num\">2</td>"
                      "<td class=\"num\">\xe2\x80\x93</td>");
    CHECK(count_str(t, "<tr>") == PE_NUM_CLASSES + 1);
    pe_sb tab0 = {0};
    pe_html_gallery_stats_table(&tab0, NULL, 0, NULL, 2);
    CHECK(count_str(pe_sb_str(&tab0), "<td class=\"num\">0</td>") == PE_NUM_CLASSES);
    CHECK(count_str(pe_sb_str(&tab0), "<td class=\"num\">\xe2\x80\x93</td>") == 4 * PE_NUM_CLASSES);

    pe_sb card = {0};
    pe_html_prototype_card(&card, &items[0], N, 100.0);
    CHECK_CONTAINS(pe_sb_str(&card), "<div class=\"card\"><h3>Prototype #0 of SR</h3>");
    CHECK(count_str(pe_sb_str(&card), "class=\"ecg\"") == 1);
    CHECK(count_str(pe_sb_str(&card), "class=\"lead\"") == 12);
    CHECK_CONTAINS(pe_sb_str(&card), "ecg_id <b>200</b>");
    CHECK_CONTAINS(pe_sb_str(&card), "<span class=\"tag hit\" title=\"sinus rhythm\">SR</span>");
    pe_sb card4 = {0};
    pe_html_prototype_card(&card4, &items[4], N, 100.0);
    CHECK_CONTAINS(pe_sb_str(&card4), "Source ECG signal not available");
    CHECK_CONTAINS(pe_sb_str(&card4), "none (not projected)");

    /* the gallery page is made of the table (level 2) and the cards */
    pe_sb gal = {0}, tab2 = {0}, c1 = {0};
    CHECK(pe_html_gallery_page(&gal, "g", "m", items, 5, N, 100.0, &st, &e) == 0);
    pe_html_gallery_stats_table(&tab2, items, 5, &st, 2);
    pe_html_prototype_card(&c1, &items[1], N, 100.0);
    CHECK(strstr(pe_sb_str(&gal), pe_sb_str(&tab2)) != NULL);
    CHECK(strstr(pe_sb_str(&gal), pe_sb_str(&card)) != NULL);
    CHECK(strstr(pe_sb_str(&gal), pe_sb_str(&c1)) != NULL);

    pe_sb *all[] = {&body, &two, &np, &esc, &page, &body2, &bad, &tab, &tab0, &card, &card4, &gal,
                    &tab2, &c1};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pe_sb_free(all[i]);
    TEST_END();
}
