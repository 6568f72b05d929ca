"""The vocabulary of commitments: who of the team can promise, what they do for the customer, what
is done, and the times to come a plan names. Regular-expression alternations, joined into the
markers (``markers.py``)."""

from __future__ import annotations

# what a colleague or a subjectless "will" commits to do for the customer
ACTS = (r"call|ring|phone|contact|email|e-mail|message|text|dm|reach|get|follow|send|update|keep|confirm|reply|"
         r"respond|revert|ping|share|arrange|book|schedule|be in touch|be back|come back|let you know|notify|inform|"
         r"write|try|return|come|visit|attend|arrive|drop|pop|bring|deliver|collect|pick up|install|fix|repair|sort|"
         r"review|process|look|chase|investigate|escalate|be there|be with you|be round|be over|be out|swing by|mail|"
         r"post")
# who of the team (or sent by it) a promise can name: "our tech will", "an officer will", "the nurse will"
STAFF = (r"team|engineers?|specialists?|technicians?|techs?|agents?|colleagues?|manager|supervisor|lead|"
          r"department|staff|experts?|reps?|representatives?|advis[eo]rs?|consultants?|developers?|devs|"
          r"installers?|couriers?|drivers?|officers?|nurses?|doctors?|gp|clinicians?|pharmacists?|therapists?|"
          r"electricians?|plumbers?|contractors?|fitters?|surveyors?|inspectors?|assessors?|adjusters?|"
          r"mechanics?|caseworkers?|case managers?|coordinators?|co-ordinators?|dispatchers?|handyman|locksmiths?|builders?|"
          r"cleaners?|movers?|crew|lads|guys|folks|brokers?|underwriters?|accountants?|solicitors?|lawyers?|paralegals?|"
          r"tutors?|instructors?|coaches|trainers?|registrar|admissions|recruiters?|receptionists?|concierge|"
          r"porters?|partners?|vendors?|suppliers?|carriers?|warehouse|billing|finance|support|helpdesk|"
          r"service desk")

# what someone of the team or sent by it does for the customer ("our lineman will install it")
SERVICE = (r"call|ring|phone|contact|email|e-mail|message|text|reach out|get back|get in touch|follow up|send|update|"
            r"confirm|reply|respond|revert|arrange|book|schedule|be in touch|come back|come out|come round|come by|"
            r"notify|inform|write|visit|attend|arrive|deliver|collect|pick up|install|fix|repair|review|process|chase|"
            r"investigate|escalate|be there|be with you|be round|be over|be out|swing by|mail|post|patch|replace|"
            r"refund|credit|ship|dispatch|issue|resolve|complete|finish|prepare|file|submit|reconnect|restore|"
            r"inspect|assess|service|unlock|drop off|bring|sort out|take care of|handle|look into|set up|upgrade|"
            r"activate|deploy|reimburse|swap|exchange|reach you|have (?:it|this|that|them|the|your|power|everything)")
# what is done for the customer, said of the thing ("the link will be sent")
DONE = (r"sent|emailed|e-mailed|mailed|posted|shipped|dispatched|delivered|couriered|enabled|activated|processed|"
         r"refunded|credited|issued|fixed|repaired|replaced|resolved|installed|restored|reconnected|reset|completed|"
         r"scheduled|booked|arranged|collected|picked up|released|approved|reviewed|deployed|applied|reversed|"
         r"corrected|returned|reimbursed|waived|rebooked|reissued|upgraded|sorted|rectified|uploaded|forwarded|"
         r"finali[sz]ed|prepared|ready|done|live|with you|back (?:up|online|on)|in touch|in contact|contacted|"
         r"called|visited|inspected|repaired|cleaned|unlocked|patched")
# a plan in the present progressive ("we're sending", "our tech is swinging by")
DOING = (r"(?:sending|shipping|dispatching|posting|mailing|couriering|dropping|bringing|delivering|calling|ringing|"
          r"phoning|emailing|texting|pushing|deploying|releasing|rolling out|installing|fixing|repairing|replacing|"
          r"swapping|booking|scheduling|arranging|processing|refunding|crediting|issuing|putting|rebooking|collecting|"
          r"picking up|reconnecting|restoring|upgrading|sorting|finishing|completing|preparing|filing|submitting|"
          r"patching|setting up|getting|doing)\s+(?:out\s+|over\s+|back\s+|across\s+|off\s+|round\s+)?"
          # with what it is done to, not a workload ("we're processing a high volume of requests today")
          r"(?!(?:a|an|the)\s+(?:high|large|huge|lot|number|volume|backlog|few)\b)"
          r"(?:you|u|your|it|this|that|them|these|those|the|an?|out|over|back|round|by)"
          # a visit, not an errand ("popping out for lunch", "heading out")
          r"|coming\s+(?:over|out|round|around|by|back|to you|to your)"
          r"|(?:popping|swinging|heading)\s+(?:over|round|around|by|back to you|to you|to your|in to)")
# states, workloads and feelings in the progressive, not plans
NOT_DOING = (r"experiencing|having|seeing|expecting|hoping|waiting|looking|closing|moving|going|trying|planning|"
              r"thinking|wondering|running|missing|lacking|struggling|facing|receiving|handling|getting|feeling|"
              r"leaving|working|enjoying|celebrating|attending|travell?ing|flying|taking|showing|checking in|writing|reaching|following|sorry|"
              r"investigating|monitoring|reviewing|still|currently|unable|offering|launching|hosting|holding")
# the errand of a visit ("to fit it"): the verbs of _VISIT
VISIT_TO = (r"(?<!due )\bto\s+(?:install|replace|repair|fix|check|inspect|deliver|collect|pick up|set up|service|fit|"
             r"mount|swap|change|connect|reconnect|finish|complete|measure|survey|test|configure|upgrade|sort|look at|"
             r"have a look|take a look|see to|attend to|work on|assess|diagnose)\b")
# a time to come, for a plan in the present tense
WHEN = (r"today|tonight|tomorrow|tomorow|tmrw|tmr|2moro|this (?:morning|afternoon|arvo|evening|week)|next week|"
         r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|weekend|in \d+|in (?:an?|one|two|half an) |within|"
         r"by (?:the )?(?:end|eod|cob|close|\d|mon|tue|wed|thu|fri|sat|sun|noon|tomorrow|tonight|lunch)|eod|cob|"
         r"end of (?:the )?(?:day|week)|later|at \d+(?:[:.]\d\d)?\s*(?:am|pm)?")
# organisations that are not the team: a plan of theirs relayed ("the bank will contact you within
# 5 working days", "the council will send their inspector next week") is not the team's promise.
# Carriers are not among them: "UPS will have it at your office by Thursday" delivers what the team
# shipped, and is read as the team's word; so is Amazon, which delivers for many shops.
OTHERS = (r"banks?|council|airlines?|manufacturers?|insurers?|landlords?|embassy|consulate|government|"
          r"court|police|apple|google|microsoft|hmrc|irs|dvla")
