// Tests of models/radial_basis: exact GTO radial integrals against mpmath, derivatives against finite
// differences, the orthonormalization against quadrature, gapd's spline against the exact functions, and
// librascal's spline against an independently built natural cubic spline with librascal's interval search.

#include "models/descriptors/radial_basis.hpp"

#include <doctest/doctest.h>

#include <Eigen/Dense>
#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

using gapd::RadialBasis;
using gapd::RadialMode;
using gapd::SoapHypers;

namespace {

SoapHypers make_hypers(int nmax, int lmax, double rc, double sigma, double spline_accuracy = 0.0) {
    SoapHypers h;
    h.max_radial = nmax;
    h.max_angular = lmax;
    h.cutoff.cutoff = rc;
    h.gaussian_sigma = sigma;
    h.librascal_spline_accuracy = spline_accuracy;
    return h;
}

// Reference M_nl(r) and dM/dr from mpmath at 40 digits, written only from the README maths:
//   sigma_n = rc max(sqrt n, 1)/nmax, b_n = 1/(2 sigma_n^2), a = 1/(2 sigma^2), N_n, S as in the README,
//   W = U diag(e^-1/2) U^T from mp.eigsy(S), T = W diag(N_n/4),
//   Q_nl(r) = (a r)^l (a+b_n)^(-A) Gamma(A)/Gamma(l+3/2) exp(-a r^2) mp.hyp1f1(A, l+3/2, a^2 r^2/(a+b_n)),
//   A = (n+l+3)/2, M_nl = sum_k T_nk Q_kl, dM/dr by mp.diff (numerical, high precision),
//   centre_n = sum_k T_nk Gamma((k+3)/2)/Gamma(3/2) (a+b_k)^(-(k+3)/2).
// data: for each r, for each listed l, for n < nmax: {M, dM/dr}.
struct RefSet {
    int nmax, lmax;
    double rc, sigma;
    std::vector<double> r;
    std::vector<int> l;
    std::vector<double> centre;
    std::vector<std::array<double, 2>> data;
};

const RefSet kPaperRef{8, 6, 5.5, 0.5, {0.37, 2.13, 5.5}, {0, 1, 2, 3, 4, 5, 6},
    {
        0.12844848120353436, 0.03323759599476769, -0.00290515863879622, 0.0024494502311373273,
        0.0006576360356086735, -0.0003311041894932438, -0.00011661651309908127, 5.912344280171772e-05,
    },
    {
        {0.1089617306841628, -0.0969578699832222}, {0.041060051441634694, 0.034646012886023675},
        {0.0005265172509978976, 0.019529680419336653}, {0.0031180664744797845, 0.0022970308890910844},
        {-7.064571640480423e-05, -0.002613623130107659}, {7.066810670891684e-05, 0.0014258914108995731},
        {-0.00020798560119475847, -0.000237935796496562}, {6.487436759267521e-05, -1.2439151741613528e-05},
        {0.02654053595699602, 0.04497431533408431}, {0.022535360980360224, 0.05500746380758249},
        {0.0015923426718083547, 0.011920065925999581}, {0.0022918381763401977, 0.003934448534729935},
        {-0.0011038933515291661, -0.0013119813812849416}, {0.0006462789618012221, 0.0007509834396187787},
        {-0.00027434683235328267, -0.0002854586654235334}, {5.4194856261635675e-05, 4.603368506502086e-05},
        {0.004615668402084396, 0.020049963798974953}, {0.0066251136271674544, 0.03189258333386123},
        {0.0012597898503033092, 0.008229924672608083}, {0.0005061810747829982, 0.0020584504040234235},
        {-0.00021770058477839867, -0.0006308420483331282}, {0.0001227864328375336, 0.00035319061657354236},
        {-4.479742113771238e-05, -0.00011623196943197092}, {7.24910369741331e-06, 1.4069722357860768e-05},
        {0.0006485268465956396, 0.00455220951104828}, {0.0013972769007641016, 0.010279750992907372},
        {0.0004835805342180516, 0.004029507379685767}, {6.020268281242778e-05, 0.00039227201761074054},
        {-2.234555939900097e-06, 6.521650742880009e-05}, {2.48509147199198e-07, -4.22779725884537e-05},
        {1.6535361442260574e-06, 2.9662648055230605e-05}, {-8.491838659648375e-07, -9.793353918498826e-06},
        {7.817976010961949e-05, 0.0007594048141871079}, {0.00023588902689943443, 0.002349521177846873},
        {0.0001280706962861035, 0.00136450906910183}, {2.9666089883406776e-06, 2.700458500032808e-05},
        {8.450157018099686e-06, 9.70234604737269e-05}, {-4.905140876307125e-06, -5.525061458276147e-05},
        {2.2923861694316857e-06, 2.524514664066217e-05}, {-5.574589862466509e-07, -6.0276796367910425e-06},
        {8.42163734630513e-06, 0.00010467234542716119}, {3.36286047176418e-05, 0.0004233495775476038},
        {2.672130102266276e-05, 0.000351417399436209}, {-2.5008508130176034e-07, -2.3323127970067164e-06},
        {2.584907856803772e-06, 3.4284297439077436e-05}, {-1.425530555369504e-06, -1.8698621151302207e-05},
        {6.08816292826239e-07, 7.929086976827724e-06}, {-1.3585925108340978e-07, -1.7606767690774703e-06},
        {8.412595280738568e-07, 1.2763478466727985e-05}, {4.167839424633062e-06, 6.34658770118244e-05},
        {4.692251462328772e-06, 7.378877452016443e-05}, {-2.803004243413913e-08, -1.0449965662177506e-07},
        {5.042591136955397e-07, 7.890303241792276e-06}, {-2.64184747355616e-07, -4.092589824642642e-06},
        {1.0761730571416897e-07, 1.6600482948399709e-06}, {-2.308266191205669e-08, -3.5527395256029484e-07},
        {0.001570240608715694, -0.004346803340992805}, {-0.00034274246749274254, -0.011642140979839117},
        {0.020443758339195574, -0.03999673758535956}, {0.022774929943233768, 0.014309120509801005},
        {0.004414570703517632, 0.01009056224172636}, {0.0019419273987851993, 0.002768598385510764},
        {-0.0003011404927714545, 0.0006203837735823702}, {6.827296747322031e-05, -3.44392573471976e-05},
        {0.0014340961484101478, -0.0037965459952074205}, {-0.0004715551266289649, -0.010262614800708527},
        {0.019072039493455716, -0.036619757495112065}, {0.021657757991258197, 0.01418402855113218},
        {0.004215545072076496, 0.009900507438304586}, {0.0018590731907641375, 0.002640648867234116},
        {-0.0002853922952499095, 0.0006127880525091393}, {6.502288370927502e-05, -3.57470897078862e-05},
        {0.0012080646875204236, -0.002962564052297021}, {-0.0006620979936770104, -0.007988699511288576},
        {0.016607334615208243, -0.030701019591083636}, {0.01958829267425528, 0.013870125429870568},
        {0.0038477855509306304, 0.009500155472851234}, {0.0017025811524373163, 0.0024098267812435754},
        {-0.0002557390976424074, 0.0005937597992552939}, {5.887402219732533e-05, -3.728140162097425e-05},
        {0.0009484304591855572, -0.002113048963930517}, {-0.0008206891336951503, -0.0055254054260400415},
        {0.013511454667958682, -0.023571207723328248}, {0.016856173062851584, 0.013270785548356263},
        {0.0033625464966098636, 0.008874284851272812}, {0.0014901517052620422, 0.0021126486505606487},
        {-0.0002158603432083052, 0.0005597343507311636}, {5.0536252048261614e-05, -3.775192312146118e-05},
        {0.0006994043664791107, -0.0014049054444599644}, {-0.0008814498392139533, -0.0034290024523730774},
        {0.010285375612174618, -0.016575744514950554}, {0.013807330313568152, 0.012319588162478278},
        {0.0028197011287935396, 0.008027473835924523}, {0.0012448118046015605, 0.0017892604380049502},
        {-0.00017058464035577255, 0.0005088078593532952}, {4.096150904601671e-05, -3.6101338691418273e-05},
        {0.0004865723532508895, -0.0008844617967014251}, {-0.000831265553562352, -0.0019378010318421113},
        {0.007338239117704041, -0.010676725183562588}, {0.01077240624581382, 0.011018583682364167},
        {0.0022746644597142597, 0.006999553304160845}, {0.000991236969602622, 0.0014723801639179432},
        {-0.00012511564016334358, 0.00044305655618948834}, {3.120277398581058e-05, -3.210364780386116e-05},
        {0.00031970161646637115, -0.0005339360336852459}, {-0.0006998257173328972, -0.001021238384796814},
        {0.004915720888998985, -0.006296496917480723}, {0.008011261362123474, 0.009444747840459742},
        {0.0017694009587319, 0.005865885169217083}, {0.0007517931553373522, 0.0011814228481549216},
        {-8.410493941274946e-05, 0.00036874875910856774}, {2.22275837841403e-05, -2.645971455555944e-05},
        {-3.855805988087215e-05, 3.666151298996489e-06}, {7.071173580487786e-05, -4.005799730875116e-05},
        {-0.00014774462189679966, 0.0003202123327212798}, {0.00034443746511662974, -0.001643791275442227},
        {4.440182936140983e-05, 0.004801175761745258}, {-0.0032942497515608977, -0.005516054831770695},
        {0.007676106366049346, -0.009341615745822597}, {0.008143040273104555, 0.003361594054675845},
        {-3.824261955129314e-05, 3.6223148158425882e-06}, {7.012082493021887e-05, -3.9699760621809576e-05},
        {-0.00014641720842502952, 0.0003173891990611109}, {0.000340982699990926, -0.001629155158106785},
        {4.59400032479278e-05, 0.004758703540399237}, {-0.0032694945443202013, -0.005470716784324291},
        {0.007609327883724285, -0.009243861753107487}, {0.008077081692516662, 0.0033561149890769986},
        {-3.761941343649851e-05, 3.535609579048342e-06}, {6.89536947803307e-05, -3.899220101253026e-05},
        {-0.00014379780971937096, 0.0003118176337556874}, {0.00033417435436957607, -0.0016002797595722695},
        {4.892776641963643e-05, 0.0046749172738717445}, {-0.0032205305041642725, -0.0053812252722250245},
        {0.007477519936896455, -0.009051361542766164}, {0.007946778121158534, 0.0033447551495836623},
        {-3.6703483259686565e-05, 3.407962325959761e-06}, {6.723912639422341e-05, -3.79528165584755e-05},
        {-0.0001399557211548848, 0.00030364376876239416}, {0.00032420995322176714, -0.0015579406406176532},
        {5.319386227475662e-05, 0.004552079468655011}, {-0.0031484309363702385, -0.005249894651986895},
        {0.007284103911287043, -0.008769978637464974}, {0.007755290494672404, 0.003326749765067699},
        {-3.5516640118537125e-05, 3.242237941294663e-06}, {6.501881997029013e-05, -3.660704417565812e-05},
        {-0.0001349910783987084, 0.00029307881950698034}, {0.0003113739931734764, -0.0015032570268229003},
        {5.8495703212833994e-05, 0.004393452837348045}, {-0.0030547581068590024, -0.0050800631870094115},
        {0.00703402498371446, -0.008408138898646857}, {0.007507198440799662, 0.0033010447636033086},
        {-3.4086608928910664e-05, 3.0422003857124545e-06}, {6.23457221228337e-05, -3.498732475511489e-05},
        {-0.00012903054812747744, 0.00028039004438298144}, {0.0002960246624015598, -0.0014376420305866658},
        {6.453521928154746e-05, 0.004203152723139512}, {-0.0029415085278243647, -0.004875943280713048},
        {0.00673354068859567, -0.007976416077424796}, {0.007208316597042211, 0.0032663989554282255},
        {-3.244596132472529e-05, 2.8124480678388675e-06}, {5.92819433101325e-05, -3.313191820711527e-05},
        {-0.00012222199344695254, 0.0002658895446998973}, {0.0002785775041989619, -0.0013627412697629704},
        {7.097794694385541e-05, 0.003985965576818606}, {-0.0028110440511646176, -0.004642437723997091},
        {0.006389959329997716, -0.007487024561395188}, {0.00686546627940849, 0.003221505456198544},
    }};
const RefSet kSmallRef{4, 3, 5.0, 0.5, {0.0, 1.2, 3.7, 5.0}, {0, 1, 2, 3},
    {
        0.116285047915234, -0.03558694734326261, 0.0007287256475110435, -0.001939978008077524,
    },
    {
        {0.116285047915234, 0.0}, {-0.03558694734326261, 0.0},
        {0.0007287256475110435, 0.0}, {-0.001939978008077524, 0.0},
        {0.0, 0.10289146504780962}, {0.0, -0.015994821118343456},
        {0.0, -0.0037301218336017452}, {0.0, -5.9798558009957325e-05},
        {0.0, 0.0}, {0.0, 0.0},
        {0.0, 0.0}, {0.0, 0.0},
        {0.0, 4.142843701487771e-90}, {0.0, 7.014907276054911e-91},
        {0.0, -4.239784892589156e-91}, {0.0, 1.1125715283241591e-91},
        {0.04877104419918972, -0.07095082039088134}, {0.021352958237334085, 0.042698280547901486},
        {-0.00405475755672013, 0.006405160405769882}, {0.0016557292807864894, 0.0008007866361517139},
        {0.037589093107105113, -0.03975806744222018}, {0.01999935821321446, 0.03393286600089126},
        {-0.003409701564434075, 0.005564822752655952}, {0.001489092244183425, 0.0005230537674409058},
        {0.023975005814389116, -0.011867350679811244}, {0.016196538344924984, 0.02695775016915272},
        {-0.002297341317776094, 0.003712915753278744}, {0.0011234182881553637, 0.0005473336803927093},
        {0.01319488644784506, 0.002026925440156952}, {0.01129068423194326, 0.021432755160170087},
        {-0.0012392638096982488, 0.002119018865946545}, {0.0007169354545977792, 0.0005987113053065544},
        {0.0011280036910694098, 0.0002720827567241666}, {-0.0031719044407909043, -0.003795384284174214},
        {0.014078425706871614, -0.012208029658967504}, {0.007215634837554789, 0.006684491569386188},
        {0.001107998338716387, 0.00027410981307206267}, {-0.0031205109481863705, -0.0037265167705098196},
        {0.013806780160528267, -0.011845820063406266}, {0.007092462510375541, 0.006623850070234669},
        {0.001069056905036094, 0.0002776922940420314}, {-0.0030201000875170196, -0.0035933589119382316},
        {0.013279445750482491, -0.011150244480475385}, {0.006852490159472114, 0.006502959702735093},
        {0.001013222182314891, 0.0002819625851179968}, {-0.0028752600116462687, -0.00340446009217591},
        {0.012526749318400856, -0.01017535750103727}, {0.006507907424312412, 0.0063228079905567796},
        {-4.4253237043720886e-05, -0.0010705345661647628}, {-0.0004498314152512421, 0.003275742950955857},
        {-0.00043918662115530947, -0.006628571917049431}, {0.010987606990423367, -0.0014399837126278126},
        {-4.437412925838738e-05, -0.001059217717576822}, {-0.000443615366133806, 0.0032389018320104082},
        {-0.0004383780664278624, -0.006557229109258289}, {0.010877159532551538, -0.001384376970127203},
        {-4.459417299348642e-05, -0.0010369593433733604}, {-0.00043142657939261147, 0.0031665021814188104},
        {-0.00043666711147321034, -0.006416961843807488}, {0.010659624787462843, -0.0012761145258950515},
        {-4.487196911354664e-05, -0.0010044885193311222}, {-0.0004137363143657374, 0.003061032921368387},
        {-0.0004338774278818462, -0.006212464324587564}, {0.010341551172882766, -0.001120882621568288},
    }};
const RefSet kLargeRef{12, 9, 6.0, 0.5, {5.8}, {0, 1, 9},
    {
        0.10894589025239024, 0.07263798275803009, 0.02134190341596817, 0.005430401305132481,
        0.0006607487764061906, -0.00018202543347771194, -6.421283184005978e-05, 2.602387706740097e-05,
        1.7520758517290477e-05, -1.2483131203376563e-06, -3.577161583067233e-06, 9.537625490688312e-08,
    },
    {
        {1.9363267975452475e-06, -7.193739971290344e-06}, {-1.6775732207989804e-06, 1.027436713244053e-05},
        {-2.434338520742364e-06, -1.6847192336990757e-06}, {5.168424520351435e-06, -3.2665218273494866e-05},
        {2.8494321795406675e-05, 8.726876393780335e-05}, {-0.00020532318637264747, 0.00022139467863175312},
        {0.0005253321965905994, -0.0021290727937114218}, {-1.2084691205726422e-05, 0.00593138012659198},
        {-0.003049956226478096, -0.00433821047208997}, {0.004280925696492594, -0.012259242700443228},
        {0.008149051135512292, -0.0007370273463533156}, {0.005927779885188601, 0.004128835821310399},
        {1.919540294344522e-06, -7.132354095506574e-06}, {-1.6615538288625795e-06, 1.0186430073468817e-05},
        {-2.417246422708316e-06, -1.6674361969382477e-06}, {5.118721473569335e-06, -3.238607628242381e-05},
        {2.8322115227542617e-05, 8.641052378471874e-05}, {-0.00020376950374978437, 0.00022021403852735},
        {0.0005208093398950936, -0.0021131574292721686}, {-1.0017141225482757e-05, 0.00588478358623054},
        {-0.0030291024937595334, -0.004303353491670805}, {0.0042452852928073805, -0.012158186177898383},
        {0.008088414532709485, -0.0007143578044155733}, {0.005885077521039387, 0.0041122246080393665},
        {1.308033706005938e-06, -4.89576827984123e-06}, {-1.0866339299351469e-06, 6.987336289739515e-06},
        {-1.7703992875890562e-06, -1.0699888168936395e-06}, {3.3348505401140972e-06, -2.218068907913092e-05},
        {2.1594901566694276e-05, 5.580768957176825e-05}, {-0.0001457050216860456, 0.00017273188376267255},
        {0.0003553379973267465, -0.0015193036208158255}, {5.49234511937228e-05, 0.004164179899125944},
        {-0.0022376715182973028, -0.0030268045931681423}, {0.0029378269845393777, -0.008457801937122793},
        {0.005825364665542175, 2.74504068251235e-05}, {0.004283334109662888, 0.003411991021899524},
    }};
const RefSet kNarrowRef{4, 3, 6.0, 0.1, {4.0}, {0, 1, 2, 3},
    {
        0.0013163902473028349, -0.0009884147380734096, 0.0002368892862310043, -0.00010612405840947225,
    },
    {
        {6.866340089599315e-06, 1.3086949328230978e-05}, {-1.8921535444790012e-05, -6.113952464015092e-05},
        {0.00012706979076725544, -5.3497133395815606e-05}, {2.329774779770998e-05, 4.566177943273318e-05},
        {6.862069191365723e-06, 1.3080859048384643e-05}, {-1.8909805657121367e-05, -6.110692074024507e-05},
        {0.0001269902888723505, -5.3424072178195504e-05}, {2.328325805284495e-05, 4.5640485301749975e-05},
        {6.853535369022816e-06, 1.3068686032063335e-05}, {-1.8886367907149954e-05, -6.104176376581223e-05},
        {0.00012683143439767977, -5.327816136380217e-05}, {2.3254305614453847e-05, 4.559792352434485e-05},
        {6.840754545990999e-06, 1.3050445354441861e-05}, {-1.8851265777890577e-05, -6.094415524039059e-05},
        {0.00012659352550584095, -5.30598232983115e-05}, {2.321094450099252e-05, 4.553414702851762e-05},
    }};


double max_abs(const std::vector<double>& v) {
    double m = 0.0;
    for (double x : v) m = std::max(m, std::abs(x));
    return m;
}

// Natural cubic spline through (x_i, y_i) on librascal's grid, built independently of gapd: moments from
// a dense solve of m_{i-1} + 4 m_i + m_{i+1} = 6 (y_{i+1} - 2 y_i + y_{i-1})/h^2, m_0 = m_{n-1} = 0, and
// evaluated in the power form around x_j. `librascal_index` selects librascal's interval search
// j = max(0, min(n-2, int((x-x1) n/(x2-x1)) - 1)); otherwise the interval containing x.
struct HandSpline {
    std::vector<double> x;
    Eigen::MatrixXd y, m;  // n x nfun
    double h = 0.0;

    HandSpline(const RadialBasis& exact, int n, double x1, double x2) {
        const int nf = exact.max_radial() * (exact.max_angular() + 1);
        h = (x2 - x1) / (n - 1);
        x.resize(n);
        y.resize(n, nf);
        std::vector<double> buf(nf);
        for (int i = 0; i < n; ++i) {
            x[i] = (i == n - 1) ? x2 : x1 + i * h;
            exact.compute(x[i], buf.data(), nullptr);
            for (int g = 0; g < nf; ++g) y(i, g) = buf[g];
        }
        Eigen::MatrixXd a = Eigen::MatrixXd::Zero(n, n);
        Eigen::MatrixXd rhs = Eigen::MatrixXd::Zero(n, nf);
        a(0, 0) = a(n - 1, n - 1) = 1.0;
        for (int i = 1; i < n - 1; ++i) {
            a(i, i - 1) = a(i, i + 1) = 1.0;
            a(i, i) = 4.0;
            rhs.row(i) = 6.0 * (y.row(i + 1) - 2.0 * y.row(i) + y.row(i - 1)) / (h * h);
        }
        m = a.partialPivLu().solve(rhs);
    }

    int index(double r, bool librascal_index) const {
        const int n = static_cast<int>(x.size());
        if (librascal_index) {
            const int k = static_cast<int>((r - x.front()) * n / (x.back() - x.front())) - 1;
            return std::max(0, std::min(n - 2, k));
        }
        return std::max(0, std::min(n - 2, static_cast<int>(std::floor((r - x.front()) / h))));
    }

    void eval(double r, bool librascal_index, double* v, double* d) const {
        const int j = index(r, librascal_index);
        const double t = r - x[j];
        for (int g = 0; g < y.cols(); ++g) {
            const double m0 = m(j, g), m1 = m(j + 1, g);
            const double slope = (y(j + 1, g) - y(j, g)) / h - h * (2 * m0 + m1) / 6;
            v[g] = y(j, g) + t * (slope + t * (m0 / 2 + t * (m1 - m0) / (6 * h)));
            d[g] = slope + t * (m0 + t * (m1 - m0) / (2 * h));
        }
    }
};

}  // namespace

TEST_CASE("radial_basis: invalid hypers are rejected") {
    CHECK_THROWS_AS(RadialBasis(make_hypers(0, 3, 5.0, 0.5), RadialMode::Exact), std::invalid_argument);
    CHECK_THROWS_AS(RadialBasis(make_hypers(4, -1, 5.0, 0.5), RadialMode::Exact), std::invalid_argument);
    CHECK_THROWS_AS(RadialBasis(make_hypers(4, 3, 0.0, 0.5), RadialMode::Spline), std::invalid_argument);
    CHECK_THROWS_AS(RadialBasis(make_hypers(4, 3, -5.0, 0.5), RadialMode::Exact), std::invalid_argument);
    CHECK_THROWS_AS(RadialBasis(make_hypers(4, 3, 5.0, 0.0), RadialMode::Exact), std::invalid_argument);
    CHECK_THROWS_AS(RadialBasis(make_hypers(4, 3, 5.0, -0.5), RadialMode::Spline), std::invalid_argument);
    CHECK_THROWS_AS(RadialBasis(make_hypers(4, 3, 5.0, 0.5, 0.0), RadialMode::LibrascalSpline),
                    std::invalid_argument);
    CHECK_NOTHROW(RadialBasis(make_hypers(1, 0, 5.0, 0.5), RadialMode::Exact));

    const RadialBasis rb(make_hypers(4, 3, 5.0, 0.5, 1e-5), RadialMode::LibrascalSpline);
    CHECK(rb.max_radial() == 4);
    CHECK(rb.max_angular() == 3);
    CHECK(rb.mode() == RadialMode::LibrascalSpline);
}

TEST_CASE("radial_basis: exact mode matches mpmath") {
    // kLargeRef exercises the fallback for Boost 1.74's 1F1 failures (n = 11, z > 50) and kNarrowRef
    // (sigma 0.1, z ~ 800) the long-double series beyond Boost's range.
    for (const RefSet* ref : {&kPaperRef, &kSmallRef, &kLargeRef, &kNarrowRef}) {
        CAPTURE(ref->nmax);
        CAPTURE(ref->sigma);
        const RadialBasis rb(make_hypers(ref->nmax, ref->lmax, ref->rc, ref->sigma), RadialMode::Exact);
        const int nmax = ref->nmax;
        std::vector<double> v(nmax * (ref->lmax + 1)), d(v.size());
        // Tolerances relative to the function scale: max |M|, |dM/dr| over [0, rc].
        double scale_v = 0.0, scale_d = 0.0;
        for (int i = 0; i <= 200; ++i) {
            rb.compute(ref->rc * i / 200, v.data(), d.data());
            scale_v = std::max(scale_v, max_abs(v));
            scale_d = std::max(scale_d, max_abs(d));
        }
        // M = T Q cancels: sum_k |T_nk Q_kl| reaches 13x the scale of M at nmax 8 and 120x at nmax 12, so
        // ulp-level errors of Q cost ~1e-14 and ~1e-13 of the scale.
        const double tol = ref->nmax > 8 ? 5e-13 : 1e-13;
        std::size_t k = 0;
        for (double r : ref->r) {
            rb.compute(r, v.data(), d.data());
            for (int l : ref->l) {
                for (int n = 0; n < nmax; ++n, ++k) {
                    CAPTURE(r);
                    CAPTURE(l);
                    CAPTURE(n);
                    CHECK(std::abs(v[l * nmax + n] - ref->data[k][0]) <= tol * scale_v);
                    CHECK(std::abs(d[l * nmax + n] - ref->data[k][1]) <= tol * scale_d);
                }
            }
        }
        REQUIRE(k == ref->data.size());

        std::vector<double> centre(nmax);
        rb.centre_values(centre.data());
        for (int n = 0; n < nmax; ++n) CHECK(std::abs(centre[n] - ref->centre[n]) <= tol * scale_v);
    }
}

TEST_CASE("radial_basis: exact derivatives match finite differences") {
    std::mt19937_64 rng(7);
    for (const SoapHypers& h : {make_hypers(8, 6, 5.5, 0.5), make_hypers(4, 3, 5.0, 0.5)}) {
        const RadialBasis rb(h, RadialMode::Exact);
        const int nf = h.max_radial * (h.max_angular + 1);
        std::vector<double> v(nf), d(nf), vp1(nf), vm1(nf), vp2(nf), vm2(nf);
        std::uniform_real_distribution<double> dist(1e-2, h.cutoff.cutoff - 1e-2);
        const double step = 1e-3;
        double worst = 0.0, scale = 0.0;
        for (int s = 0; s < 60; ++s) {
            const double r = dist(rng);
            rb.compute(r, v.data(), d.data());
            rb.compute(r + step, vp1.data(), nullptr);
            rb.compute(r - step, vm1.data(), nullptr);
            rb.compute(r + 2 * step, vp2.data(), nullptr);
            rb.compute(r - 2 * step, vm2.data(), nullptr);
            for (int g = 0; g < nf; ++g) {
                // Five-point stencil: truncation ~ step^4 f^(5)/30.
                const double fd = (8 * (vp1[g] - vm1[g]) - (vp2[g] - vm2[g])) / (12 * step);
                worst = std::max(worst, std::abs(fd - d[g]));
                scale = std::max(scale, std::abs(d[g]));
            }
        }
        CHECK(scale > 0.05);
        CHECK(worst <= 1e-9 * scale);

        // r = 0: only l = 1 has a non-zero slope (M ~ r^l); l = 0 is flat.
        rb.compute(0.0, v.data(), d.data());
        const int nmax = h.max_radial;
        for (int l = 0; l <= h.max_angular; ++l)
            for (int n = 0; n < nmax; ++n) {
                CHECK(std::isfinite(d[l * nmax + n]));
                if (l != 1) CHECK(d[l * nmax + n] == 0.0);
                if (l > 0) CHECK(v[l * nmax + n] == 0.0);
            }
        CHECK(max_abs(std::vector<double>(d.begin() + nmax, d.begin() + 2 * nmax)) > 1e-3);
    }
}

TEST_CASE("radial_basis: overlap and orthonormalization against quadrature") {
    for (const SoapHypers& h : {make_hypers(8, 6, 5.5, 0.5), make_hypers(4, 3, 5.0, 0.5)}) {
        const RadialBasis rb(h, RadialMode::Exact);
        const int nmax = h.max_radial;
        const double rc = h.cutoff.cutoff;
        std::vector<double> b(nmax), norm(nmax);
        for (int n = 0; n < nmax; ++n) {
            const double s = rc * std::max(std::sqrt(double(n)), 1.0) / nmax;
            b[n] = 0.5 / (s * s);
            norm[n] = std::sqrt(2.0 / (std::tgamma(n + 1.5) * std::pow(s, 2 * n + 3)));
        }
        // I_nm = int_0^inf r^(n+m+2) exp(-(b_n+b_m) r^2) dr by composite Simpson on [0, 60].
        const int steps = 96000;
        const double hq = 60.0 / steps;
        Eigen::MatrixXd gram(nmax, nmax);
        for (int n = 0; n < nmax; ++n)
            for (int m = 0; m < nmax; ++m) {
                double sum = 0.0;
                for (int i = 0; i <= steps; ++i) {
                    const double r = i * hq;
                    const double w = (i == 0 || i == steps) ? 1.0 : (i % 2 ? 4.0 : 2.0);
                    sum += w * std::pow(r, n + m + 2) * std::exp(-(b[n] + b[m]) * r * r);
                }
                gram(n, m) = sum * hq / 3.0;
            }
        Eigen::MatrixXd s_quad(nmax, nmax);
        for (int n = 0; n < nmax; ++n)
            for (int m = 0; m < nmax; ++m) s_quad(n, m) = gram(n, m) / std::sqrt(gram(n, n) * gram(m, m));

        const Eigen::MatrixXd& s = rb.overlap();
        CHECK((s - s_quad).cwiseAbs().maxCoeff() <= 1e-12);

        // T = W diag(N_n/4) with W = S^(-1/2) symmetric: W S W = I and T^T S T = diag(N_n^2/16).
        const Eigen::VectorXd quarter_norm = Eigen::Map<Eigen::VectorXd>(norm.data(), nmax) / 4.0;
        const Eigen::MatrixXd& t = rb.transform();
        const Eigen::MatrixXd w = t * quarter_norm.cwiseInverse().asDiagonal();
        CHECK((w - w.transpose()).cwiseAbs().maxCoeff() <= 1e-10 * w.cwiseAbs().maxCoeff());
        CHECK((w * s_quad * w - Eigen::MatrixXd::Identity(nmax, nmax)).cwiseAbs().maxCoeff() <= 1e-9);
        const Eigen::MatrixXd d2 = quarter_norm.cwiseProduct(quarter_norm).asDiagonal();
        CHECK((t.transpose() * s_quad * t - d2).cwiseAbs().maxCoeff() <= 1e-9 * d2.maxCoeff());
    }
}

TEST_CASE("radial_basis: spline mode matches exact mode") {
    std::mt19937_64 rng(11);
    for (const SoapHypers& h : {make_hypers(8, 6, 5.5, 0.5), make_hypers(4, 3, 5.0, 0.5)}) {
        const RadialBasis exact(h, RadialMode::Exact);
        const RadialBasis spline(h, RadialMode::Spline);
        CHECK(spline.spline_nodes() > 10);
        const int nf = h.max_radial * (h.max_angular + 1);
        const double rc = h.cutoff.cutoff;
        std::vector<double> ve(nf), de(nf), vs(nf), ds(nf), vonly(nf);
        std::vector<double> radii = {0.0, 1e-9, 1e-3, rc - 1e-12, rc};
        const double node_step = rc / (spline.spline_nodes() - 1);
        for (int i = 0; i < spline.spline_nodes(); i += 7) radii.push_back(i * node_step);
        std::uniform_real_distribution<double> dist(0.0, rc);
        for (int s = 0; s < 4000; ++s) radii.push_back(dist(rng));

        double err_v = 0.0, err_d = 0.0, scale_v = 0.0, scale_d = 0.0;
        bool values_only_identical = true;
        for (double r : radii) {
            exact.compute(r, ve.data(), de.data());
            spline.compute(r, vs.data(), ds.data());
            spline.compute(r, vonly.data(), nullptr);
            for (int g = 0; g < nf; ++g) {
                err_v = std::max(err_v, std::abs(vs[g] - ve[g]));
                err_d = std::max(err_d, std::abs(ds[g] - de[g]));
                scale_v = std::max(scale_v, std::abs(ve[g]));
                scale_d = std::max(scale_d, std::abs(de[g]));
                values_only_identical = values_only_identical && vonly[g] == vs[g];
            }
        }
        CAPTURE(err_v);
        CAPTURE(err_d);
        CHECK(scale_v > 0.05);
        CHECK(scale_d > 0.05);
        CHECK(err_v <= 1e-10 * scale_v);
        CHECK(err_d <= 1e-9 * scale_d);
        CHECK(values_only_identical);

        std::vector<double> c_spline(h.max_radial), c_exact(h.max_radial);
        spline.centre_values(c_spline.data());
        exact.centre_values(c_exact.data());
        CHECK(c_spline == c_exact);
    }
}

TEST_CASE("radial_basis: centre term is the exact M_n0(0)") {
    const SoapHypers h = make_hypers(8, 6, 5.5, 0.5, 1e-5);
    const RadialBasis exact(h, RadialMode::Exact);
    std::vector<double> v(8 * 7), centre(8);
    exact.compute(0.0, v.data(), nullptr);
    exact.centre_values(centre.data());
    for (int n = 0; n < 8; ++n) CHECK(std::abs(centre[n] - v[n]) <= 1e-15);
    // librascal takes the centre from the closed form even when splining the neighbours.
    const RadialBasis lr(h, RadialMode::LibrascalSpline);
    std::vector<double> lr_centre(8);
    lr.centre_values(lr_centre.data());
    CHECK(lr_centre == centre);
}

TEST_CASE("radial_basis: librascal spline grid follows librascal's refinement") {
    // Expected sizes from a numpy reimplementation of librascal's loop (grids of 2 << k points from
    // k = 5 until the mean abs error on the cell midpoints is below the accuracy); mean errors there:
    // 64 points 2.7e-7 (paper) / 3.2e-7 (small), 128 points 2.6e-8 / 3.5e-8, 256 points 2.8e-9 / 4.0e-9.
    for (const auto& hp : {std::array<double, 4>{8, 6, 5.5, 0.5}, std::array<double, 4>{4, 3, 5.0, 0.5}}) {
        const auto make = [&](double acc) {
            return RadialBasis(make_hypers(int(hp[0]), int(hp[1]), hp[2], hp[3], acc), RadialMode::LibrascalSpline);
        };
        CHECK(make(1e-5).spline_nodes() == 64);
        CHECK(make(1e-6).spline_nodes() == 64);
        CHECK(make(1e-7).spline_nodes() == 128);
        CHECK(make(1e-8).spline_nodes() == 256);
    }
}

TEST_CASE("radial_basis: librascal spline is a natural cubic spline with librascal's interval search") {
    std::mt19937_64 rng(5);
    for (const SoapHypers& h : {make_hypers(8, 6, 5.5, 0.5, 1e-5), make_hypers(4, 3, 5.0, 0.5, 1e-5)}) {
        const RadialBasis exact(h, RadialMode::Exact);
        const RadialBasis lr(h, RadialMode::LibrascalSpline);
        const int n = lr.spline_nodes();
        REQUIRE(n == 64);
        const double x1 = 1e-5, x2 = h.cutoff.cutoff;
        const HandSpline hand(exact, n, x1, x2);
        const int nf = h.max_radial * (h.max_angular + 1);
        std::vector<double> vl(nf), dl(nf), vh(nf), dh(nf), ve(nf), de(nf), vc(nf), dc(nf);

        std::vector<double> radii = {0.0, 0.5 * x1, x1, x2};  // below x1: interval 0 extrapolated
        std::uniform_real_distribution<double> dist(0.0, x2);
        for (int s = 0; s < 3000; ++s) radii.push_back(dist(rng));
        double diff_v = 0, diff_d = 0, scale_v = 0, scale_d = 0, dev_lr = 0, dev_correct = 0;
        for (double r : radii) {
            lr.compute(r, vl.data(), dl.data());
            hand.eval(r, true, vh.data(), dh.data());
            hand.eval(r, false, vc.data(), dc.data());
            exact.compute(r, ve.data(), de.data());
            for (int g = 0; g < nf; ++g) {
                diff_v = std::max(diff_v, std::abs(vl[g] - vh[g]));
                diff_d = std::max(diff_d, std::abs(dl[g] - dh[g]));
                scale_v = std::max(scale_v, std::abs(ve[g]));
                scale_d = std::max(scale_d, std::abs(de[g]));
                dev_lr = std::max(dev_lr, std::abs(vl[g] - ve[g]));
                dev_correct = std::max(dev_correct, std::abs(vc[g] - ve[g]));
            }
        }
        CAPTURE(diff_v);
        CAPTURE(diff_d);
        CAPTURE(dev_lr);
        CAPTURE(dev_correct);
        CHECK(diff_v <= 1e-13 * scale_v);
        CHECK(diff_d <= 1e-12 * scale_d);
        // The off-by-one costs accuracy: with the interval to the left the worst deviation from the exact
        // functions is ~1e-4, several times that of the same spline evaluated in the right interval.
        CHECK(dev_lr > 1e-5 * scale_v);
        CHECK(dev_lr < 1e-2 * scale_v);
        CHECK(dev_lr > 3 * dev_correct);

        // librascal's own acceptance number: mean abs error on the cell midpoints below the accuracy.
        double sum = 0.0;
        const double offset = (x2 - x1) / (2 * (n - 1));
        for (int i = 0; i < n - 1; ++i) {
            const double r = x1 + offset + i * (x2 - x1 - 2 * offset) / (n - 2);
            lr.compute(r, vl.data(), nullptr);
            exact.compute(r, ve.data(), nullptr);
            for (int g = 0; g < nf; ++g) sum += std::abs(vl[g] - ve[g]);
        }
        CHECK(sum / ((n - 1) * nf) < 1e-5);

        // Values jump where int((x - x1) n/(x2 - x1)) changes (not at nodes): the source of the ~1e-5 eV
        // energy jumps of splined librascal models. gapd's spline is continuous there.
        const RadialBasis spline(h, RadialMode::Spline);
        const double x_jump = x1 + 32 * (x2 - x1) / n;
        const double below = std::nextafter(x_jump, 0.0), above = std::nextafter(x_jump, x2);
        std::vector<double> va(nf), vb(nf);
        lr.compute(below, vb.data(), nullptr);
        lr.compute(above, va.data(), nullptr);
        double jump_lr = 0.0;
        for (int g = 0; g < nf; ++g) jump_lr = std::max(jump_lr, std::abs(va[g] - vb[g]));
        spline.compute(below, vb.data(), nullptr);
        spline.compute(above, va.data(), nullptr);
        double jump_spline = 0.0;
        for (int g = 0; g < nf; ++g) jump_spline = std::max(jump_spline, std::abs(va[g] - vb[g]));
        CHECK(jump_lr > 1e-8);
        CHECK(jump_spline < 1e-13);
    }
}
